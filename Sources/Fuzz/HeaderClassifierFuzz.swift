import CalibCore
import FITS
import Foundation

/// libFuzzer target: arbitrary bytes as FITS header card images, put through
/// the whole header examination of ingest by every shipped instrument profile
/// (validation, classification, night, setup) and the recipes' frame
/// preparation (detector windows, gain, binning); as a FITS byte stream
/// through the structure scanner; and as an instrument profile's YAML.
///
/// Built with the fuzzer (see scripts/fuzz.sh), libFuzzer supplies `main`;
/// built normally, `main` below replays files given as arguments (a crash
/// corpus becomes a regression check).
let profiles: [InstrumentProfile] = {
    let directory = ProcessInfo.processInfo.environment["CALIBD_CONFIG_DIR"] ?? FileManager.default.currentDirectoryPath + "/config"
    return (try? ConfigurationLoader.loadProfiles(directory: directory + "/instruments", configFile: "fuzz")) ?? []
}()

let scratchProfile = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-fuzz-\(getpid()).yaml").path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let header = FITSHeader(cardImages: bytes)
    for profile in profiles {
        let classification = profile.classify(header)
        precondition(classification.type != .unknown || classification.problem == nil || !classification.problem!.isEmpty)
        // Ingest: a verdict always, a problem naming what is wrong or every field a usable frame needs.
        let verdict = FrameHeaderExamination(header: header, profile: profile)
        precondition(verdict.problem != nil || (verdict.night != nil && verdict.mjd != nil && verdict.setup != nil))
        precondition(verdict.problem.map { !$0.isEmpty } ?? true)
        // Recipes' frame preparation on the same header, at the stated width and at awkward ones.
        let stated = header.int("NAXIS1").map { Int(clamping: $0) }
        for width in [stated ?? 0, 0, 1, 64, 4096, Int.max] {
            if case .success(let windows) = DetectorWindows.read(header, layout: profile.detector, width: width) {
                precondition(!windows.science.isEmpty && windows.science.upperBound <= width)
                if let overscan = windows.overscanColumns { precondition(overscan.lowerBound == windows.science.upperBound && overscan.upperBound == width) }
            }
        }
        if case .success(let gain) = HeaderValidation.gain(header, layout: profile.detector) { precondition(gain.isNaN || gain > 0) }
        for name in HeaderValidation.binningSetupNames {
            if case .success(let factor?) = HeaderValidation.binning(header, profile: profile, name: name) { precondition(factor >= 1) }
        }
        // The night rule must not trap even on a value ingest would refuse.
        if let mjd = header.double(profile.timeKey) { _ = profile.night.night(forMJD: mjd) }
    }
    // The bytes as a FITS file's stream: any verdict, never a trap, memory bounded by the header cap.
    var scanner = FITSStructureScanner(path: "fuzz")
    let streamed: Bool = bytes.withUnsafeBytes { raw in
        do throws(FITSError) { try scanner.consume(raw); _ = try scanner.finish(); return true } catch { return false }
    }
    _ = streamed
    // The same bytes as a profile: a ConfigurationError is fine, a crash is not. Only inputs that
    // look like YAML (a ':' and no '=' in the first card's worth): writing and parsing a file
    // per input otherwise caps the header paths at about a hundred runs a second.
    let lead = bytes.prefix(80)
    if lead.contains(UInt8(ascii: ":")) && !lead.contains(UInt8(ascii: "=")),
       (try? Data(bytes).write(to: URL(fileURLWithPath: scratchProfile))) != nil {
        _ = try? ConfigurationLoader.loadProfile(path: scratchProfile)
    }
    return 0
}

#if CALIBD_LIBFUZZER
/// libFuzzer's driver, entered from the executable's main: SwiftPM links an
/// executable's entry point as `<module>_main`, so libFuzzer's own `main`
/// cannot be used directly.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("Fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzOneInput(data, size)
    }
}
#else
@main
struct ReplayCorpus {
    static func main() throws {
        if CommandLine.arguments.contains("--version") { print(CalibdVersion.current); return }
        if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
            print("""
                USAGE: calibd-fuzz FILE...

                Replays inputs (e.g. a libFuzzer crash file) through the header classifier and the profile
                loader, with the instrument profiles of $CALIBD_CONFIG_DIR (default ./config). The fuzzing
                build itself is scripts/fuzz.sh. A crash is a bug; a clean replay prints a count.
                """)
            return
        }
        for path in CommandLine.arguments.dropFirst() {
            let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            _ = data.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        }
        print("replayed \(CommandLine.arguments.count - 1) inputs against \(profiles.count) profiles")
    }
}
#endif
