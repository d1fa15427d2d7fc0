import CalibCore
import Foundation
import Glibc

/// calib-bench: release-build benchmarks, one table, each figure beside its target.
///
///     swift run -c release calib-bench [--size 4096] [--only NAME] [--repeat N]
///
/// Each case runs in a child process (this executable with `--child NAME`),
/// so the peak resident memory reported (VmHWM) is that case's alone.
/// Times are the best of N runs; a baseline (memory copy of 64 MiB) is
/// measured in the same session so figures can be read as ratios on a noisy machine.
let arguments = CommandLine.arguments

/// `--help` and `--version` answer before anything else, so that neither
/// needs the simulator's model (which a run reads from the configuration directory).
if arguments.contains("--help") || arguments.contains("-h") {
    print("""
        USAGE: calib-bench [--size N] [--only NAME] [--repeat N]

        Release-build benchmarks of calibd: each case in its own child process (its peak resident
        memory is its own), the best of N runs, beside its target and as a ratio to a 64 MiB memory copy.

        OPTIONS:
          --size N       detector size in pixels (default 4096)
          --only NAME    run only this case (names below); 'PREFIX*' runs every case starting with PREFIX
          --repeat N     runs per case, the best is shown (default 3)
          --version      print the version
          -h, --help     print this help

        INPUTS: the simulator model (simulator/simechelle.yaml), line list (linelists/) and instrument
        profiles (instruments/) of a calibd configuration directory, looked for in order in:
        \(BenchmarkFrames.searchPath.map { "  " + $0 }.joined(separator: "\n"))

        CASES:
        \(allBenchmarks.map { "  " + $0.name }.joined(separator: "\n"))
        """)
    exit(0)
}
if arguments.contains("--version") {
    print(CalibdVersion.current)
    exit(0)
}
// The hidden queue-process modes (QueueWorkerMode.swift) need no configuration directory.
QueueWorkerMode.runIfRequested()

func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let size = Int(option("--size") ?? "4096") ?? 4096
let repeats = max(1, Int(option("--repeat") ?? "3") ?? 3)

func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return .nan }
    return kb / 1024
}

if let name = option("--child") {
    guard let bench = allBenchmarks.first(where: { $0.name == name }) else { exit(2) }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calib-bench-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let work = try bench.prepare(directory, size)
    var best = Double.infinity
    var bestNote = ""
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        var note = try work()
        var elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // A case that measures its own figure (a latency percentile) says so: "=SECONDS note".
        if note.hasPrefix("="), let space = note.firstIndex(of: " "), let own = Double(note[note.index(after: note.startIndex)..<space]) {
            elapsed = own
            note = String(note[note.index(after: space)...])
        }
        // The note goes with the time shown: a rate in it (claims/s) must be the best run's, not the last's.
        if elapsed < best { best = elapsed; bestNote = note }
    }
    print("\(best)\t\(peakResidentMiB())\t\(bestNote)")
    // exit() skips the `defer` above: without this every case left its scratch behind (2.9 GB a whole night).
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}

/// Time to copy 64 MiB once: the session's yardstick for memory-bound work.
func baselineSeconds() -> Double {
    let source = [Float](repeating: 1, count: 16 << 20)
    var destination = [Float](repeating: 0, count: 16 << 20)
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        destination.withUnsafeMutableBufferPointer { d in source.withUnsafeBufferPointer { s in d.baseAddress!.update(from: s.baseAddress!, count: s.count) } }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    precondition(destination[123] == 1)
    return best
}

let only = option("--only")
// Before any child starts: without the inputs every case would fail the same way.
guard BenchmarkFrames.locatedConfigDirectory != nil else {
    FileHandle.standardError.write(Data("""
        calib-bench: cannot find the calibd configuration directory (simulator/simechelle.yaml); looked in:
        \(BenchmarkFrames.searchPath.map { "  " + $0 }.joined(separator: "\n"))
          set CALIBD_CONFIG_DIR to the repository's config/ or an installed share/calibd/config

        """.utf8))
    exit(66)
}
/// `--only NAME` names one case; `--only 'PREFIX*'` every case whose name starts with PREFIX, so cases
/// compared with each other (old and new queue cycles) run in one process on one machine state.
func isSelected(_ name: String) -> Bool {
    guard let only else { return true }
    if only.hasSuffix("*") { return name.hasPrefix(only.dropLast()) }
    return name == only
}
if let only, !allBenchmarks.contains(where: { isSelected($0.name) }) {
    FileHandle.standardError.write(Data("calib-bench: no case named '\(only)' (calib-bench --help lists them)\n".utf8))
    exit(64)
}
let baseline = baselineSeconds()
let machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB"
print("calib-bench — size \(size)², best of \(repeats), \(machine); baseline: copy 64 MiB = \(String(format: "%.1f", baseline * 1000)) ms")
print("")
let header = ["benchmark", "time", "× baseline", "peak RSS", "target", "", "note"]
var rows: [[String]] = []
/// Lines a case returned after its note's first line (a breakdown), printed under the table.
var details: [(name: String, lines: String)] = []
for bench in allBenchmarks where isSelected(bench.name) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    process.arguments = ["--child", bench.name, "--size", "\(size)", "--repeat", "\(repeats)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
    let firstLine = trimmed.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
    if process.terminationStatus == 0, let newline = trimmed.firstIndex(of: "\n") {
        details.append((bench.name, String(trimmed[trimmed.index(after: newline)...])))
    }
    let fields = firstLine.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    guard process.terminationStatus == 0, fields.count >= 2, let seconds = Double(fields[0]) else {
        rows.append([bench.name, "failed", "", "", bench.target, "", output])
        continue
    }
    let verdict = bench.targetSeconds.map { seconds <= $0 ? "met" : "MISSED" } ?? ""
    rows.append([bench.name, String(format: seconds < 1 ? "%.1f ms" : "%.2f s", seconds < 1 ? seconds * 1000 : seconds),
                 String(format: seconds / baseline < 10 ? "%.2f" : "%.0f", seconds / baseline), String(format: "%.0f MiB", Double(fields[1]) ?? .nan),
                 bench.target, verdict, fields.count > 2 ? fields[2] : ""])
}
let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
for row in [header] + rows {
    print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
}
for detail in details {
    print("\n\(detail.name):\n\(detail.lines)")
}
