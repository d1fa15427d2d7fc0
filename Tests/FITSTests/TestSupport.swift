import Foundation
import FITS

/// A scratch directory removed when the test's scope ends.
final class Scratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fits-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}

/// Writes a single-image file and closes it.
func writeSingleImage<P: FITSPixel>(_ pixels: [P], width: Int, height: Int, to path: String,
                                    header: FITSHeader = FITSHeader()) throws {
    let file = try FITSFile.create(path, overwrite: true)
    try file.writeImage(pixels, width: width, height: height, header: header)
    try file.close()
}

func gzip(_ path: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-f", path]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
}

func truncate(_ path: String, to length: Int) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(length).write(to: URL(fileURLWithPath: path))
}

/// Same bit pattern, so NaN compares equal to NaN.
func bitwiseEqual<P: FITSPixel>(_ a: [P], _ b: [P]) -> Bool {
    a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
}
