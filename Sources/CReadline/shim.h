// GNU readline and its history, for the prune> prompt.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>
