// DataError: the failures of datasets and their loaders (IDX, NPY, CSV, image folders, text,
// tokenizers), batches and augmentation, worded for a Swift user; a file that cannot be read at
// all is the file layer's `FileError`.
import FileIO

/// An error raised by Data, with a message meant for the user.
public struct DataError: LibraryError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
