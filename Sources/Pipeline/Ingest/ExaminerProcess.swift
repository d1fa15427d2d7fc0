import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging

/// The child side of `IsolatedExaminer`: `calibd worker examine` reads one
/// request per line on standard input, examines the file exactly as
/// `FrameIngester` does in process (everything short of writing the
/// database), and answers one line per request on standard output, until its
/// input closes.
public enum ExaminerProcess {
    /// Serves requests until standard input closes. Throws only if it cannot start.
    public static func serve(configuration: CalibdConfiguration, logger: Logger) throws {
        WorkerProcessGuard.start()
        // Read-only: the reader never writes; the daemon records what it answers.
        let database = try RegistryOpener.open(configuration, readOnly: true)
        let ingester = FrameIngester(configuration: configuration, database: database, logger: logger)
        let injection = FaultInjection.fromEnvironment()
        let encoder = ExaminationMessage.makeEncoder()
        let decoder = ExaminationMessage.makeDecoder()
        func reply(_ message: ExaminationMessage.Reply) -> Bool {
            guard var data = try? encoder.encode(message) else { return false }
            data.append(0x0A)
            return LineReader.writeAll(data, to: STDOUT_FILENO)
        }
        guard reply(.ready) else { return }
        let input = LineReader(descriptor: STDIN_FILENO)
        while case .line(let line) = input.next() {
            let answer: ExaminationMessage.Reply
            if let request = try? decoder.decode(ExaminationMessage.Request.self, from: line) {
                injection.trap(onFile: request.path)
                do {
                    answer = ExaminationMessage.Reply(try ingester.examine(
                        path: request.path, known: request.known, now: Date(timeIntervalSince1970: request.now), final: request.final))
                } catch {
                    // examine() throws only for errors of the reader itself: say so, per file.
                    answer = ExaminationMessage.Reply(kind: .deferred, reason: "could not be examined: \(error)",
                                                      retryAt: Date().addingTimeInterval(5).timeIntervalSince1970)
                }
            } else {
                answer = ExaminationMessage.Reply(kind: .ignored, reason: "unreadable request from the daemon")
            }
            guard reply(answer) else { return }
        }
    }
}
