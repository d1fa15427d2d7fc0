import CalibCore
import FITS
import Foundation
@testable import Pipeline
import Recipes
import Testing

/// Frames turned by the profile's `detector.orientation` as they are read.
@Suite("Frame orientation")
struct FrameOrientationTests {
    /// A 5 × 3 UInt16 frame whose pixel (x, y) holds 10·y + x, written by cfitsio.
    static func makeNumberedFrame(width: Int = 5, height: Int = 3) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("orient-\(UUID().uuidString).fits").path
        let file = try FITSFile.create(path)
        var header = FITSHeader()
        header.set("ESO DET OUT1 PRSCX", .integer(1))
        header.set("ESO DET OUT1 OVSCX", .integer(2))
        try file.writeImage((0..<(width * height)).map { UInt16(10 * ($0 / width) + $0 % width) }, width: width, height: height, header: header)
        try file.close()
        return path
    }

    @Test("Every orientation reads pixel (x, y) from the raw pixel its formula names, in strips of any height")
    func everyOrientationMapsPixels() throws {
        // Given a numbered 5 × 3 frame
        let path = try Self.makeNumberedFrame()
        defer { try? FileManager.default.removeItem(atPath: path) }
        for orientation in FrameOrientation.allCases {
            // When read turned, strip by strip (rows 0..<2, then 2..<end)
            let stack = try FITSFrameStack(paths: [path], orientation: { _ in orientation })
            let size = orientation.orientedSize(width: 5, height: 3)
            #expect(stack.width == size.width && stack.height == size.height)
            var pixels = [Float](repeating: -1, count: stack.width * stack.height)
            try pixels.withUnsafeMutableBufferPointer { buffer in
                for strip in [0..<2, 2..<stack.height] {
                    try stack.read(frame: 0, rows: strip, into: UnsafeMutableBufferPointer(rebasing: buffer[(strip.lowerBound * stack.width)...]))
                }
            }
            // Then each pixel is exactly the raw value its formula names
            for y in 0..<stack.height {
                for x in 0..<stack.width {
                    let raw = orientation.rawPixel(x: x, y: y, width: 5, height: 3)
                    #expect(pixels[y * stack.width + x] == Float(10 * raw.y + raw.x), "\(orientation) at (\(x), \(y))")
                }
            }
        }
        // And the 180° turn puts the last raw pixel first, as SOXSPIPE's UVB rot90(data, 2)
        let turned = try FITSFrameStack(paths: [path], orientation: { _ in .rotate180 }).image(0)
        #expect(turned[0, 0] == 24 && turned[4, 2] == 0)
    }

    @Test("Pre/overscan columns counted on the raw frame land at the other ends after a 180° turn; swapping axes with them is refused")
    func regionsFollowTheTurn() throws {
        var header = FITSHeader()
        header.set("PRSCX", .integer(48))
        header.set("OVSCX", .integer(32))
        let layout = DetectorLayout(overscanColumnsKey: "OVSCX", prescanColumnsKey: "PRSCX")
        // Given a 2144-column frame with 48 prescan and 32 overscan columns
        let plain = try DetectorGeometry.regions(width: 2144, header: header, layout: layout, path: "frame.fits")
        let turned = try DetectorGeometry.regions(width: 2144, header: header, layout: layout, path: "frame.fits", orientation: .rotate180)
        // Then as read the science columns are 48..<2112; turned, 32..<2096 with the overscan at 0..<32
        #expect(plain.science == 48..<2112 && plain.overscan == 2112..<2144)
        #expect(turned.science == 32..<2096 && turned.overscan == 0..<32)
        #expect(throws: PipelineError.self) { try DetectorGeometry.regions(width: 2144, header: header, layout: layout, path: "frame.fits", orientation: .rotate90) }
    }

    @Test("Without pre/overscan counts the configured science columns are the window; one beyond the frame is refused")
    func configuredScienceColumns() throws {
        // Given a SOXS-like header without PRSCX/OVSCX and a window of columns 50..<858
        let layout = DetectorLayout(overscanColumnsKey: "OVSCX", prescanColumnsKey: "PRSCX")
        let regions = try DetectorGeometry.regions(width: 908, header: FITSHeader(), layout: layout, path: "frame.fits", scienceColumns: 50..<858)
        #expect(regions.science == 50..<858 && regions.overscan == nil)
        #expect(throws: PipelineError.self) {
            try DetectorGeometry.regions(width: 800, header: FITSHeader(), layout: layout, path: "frame.fits", scienceColumns: 50..<858)
        }
    }
}
