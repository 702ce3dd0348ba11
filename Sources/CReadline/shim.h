// GNU readline and its history, for the prune> prompt.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include <readline/history.h>

// Small C glue for the prompt (this is a system-library target: helpers must be static inline).

/// Forgets the line being edited (after Ctrl-C at the prompt): ends any incremental search or
/// multi-key sequence in progress, frees the undo list and empties the buffer.
static inline void prune_rl_discard_line(void) {
    rl_callback_sigcleanup();
    rl_free_line_state();
    rl_replace_line("", 0);
    rl_point = 0;
    rl_end = 0;
    rl_mark = 0;
}

/// A NULL-terminated, malloc'd array of `count` + 1 strings for readline's completion: the
/// first is what replaces the word being completed, the rest the candidates listed. Readline
/// frees it.
static inline char **prune_rl_match_array(int count) {
    char **m = (char **)calloc((size_t)count + 2, sizeof(char *));
    return m;
}

/// The current line buffer and cursor, for completion (readline's globals, read from Swift).
static inline const char *prune_rl_line_buffer(void) { return rl_line_buffer ? rl_line_buffer : ""; }
static inline int prune_rl_point(void) { return rl_point; }

/// Sets readline's string settings from copies (readline keeps the pointers).
static inline void prune_rl_set_name(const char *name) { rl_readline_name = strdup(name); }
static inline void prune_rl_set_word_breaks(const char *chars) {
    static char *current = NULL;
    free(current);
    current = strdup(chars);
    rl_completer_word_break_characters = current;
}

/// Turns off readline's quote handling in completion (the session completes inside strings
/// itself); otherwise readline appends a closing quote after a completed path.
static inline void prune_rl_no_quote_characters(void) {
    rl_basic_quote_characters = "";
    rl_completer_quote_characters = NULL;
}
