import CalibCore
import FITS
import Foundation

/// libFuzzer target: arbitrary bytes as FITS header card images, classified
/// by every shipped instrument profile (setup, night and classification),
/// and as an instrument profile's YAML.
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
        _ = profile.setup(of: header)
        if let mjd = header.double(profile.timeKey), mjd.isFinite, abs(mjd) < 1e7 { _ = profile.night.night(forMJD: mjd) }
    }
    // The same bytes as a profile: a ConfigurationError is fine, a crash is not.
    if (try? Data(bytes).write(to: URL(fileURLWithPath: scratchProfile))) != nil {
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
