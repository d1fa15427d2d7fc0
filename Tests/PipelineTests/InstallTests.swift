import Foundation
import Testing

/// scripts/install.sh into a temporary DESTDIR, from the binaries under test.
@Suite("Install", .serialized)
struct InstallTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test("install.sh puts binaries, man pages, completions, configuration and the unit in place; man calibctl-best renders")
    func installIntoTemporaryPrefix() throws {
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-install-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: destination) }
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = destination
        environment["PREFIX"] = "/usr/local"
        environment["SOURCE_DATE_EPOCH"] = "1796601600"
        // When installed from the built binaries
        let install = try runCommand("/bin/bash", [Self.repository + "/scripts/install.sh", "--bin-dir", Binaries.directory],
                                     environment: environment)
        #expect(install.status == 0, "\(install.stdout)\n\(install.stderr)")
        let root = destination + "/usr/local"
        let fm = FileManager.default
        // Then every piece is where the README says
        for path in ["/bin/calibd", "/bin/calibctl", "/bin/calib-bench", "/share/man/man1/calibctl.1", "/share/man/man1/calibd.1",
                     "/share/man/man1/calibctl-best.1", "/share/man/man1/calibctl-qc-show.1",
                     "/share/bash-completion/completions/calibctl", "/share/zsh/site-functions/_calibctl",
                     "/share/fish/vendor_completions.d/calibd.fish", "/share/calibd/config/instruments/simech.yaml",
                     "/share/calibd/config/linelists/thar_nist_pypeit.dat", "/share/calibd/schema/best.schema.json"] {
            #expect(fm.fileExists(atPath: root + path), "\(path) not installed")
        }
        #expect(!fm.fileExists(atPath: root + "/share/man/man1/calibctl-generate-manpages.1"), "a hidden verb got a page")
        let config = destination + "/etc/calibd/calibd.yaml"
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("workspace: /var/lib/calibd"))
        #expect(fm.fileExists(atPath: destination + "/etc/calibd/instruments/simech.yaml"))
        #expect(try fm.destinationOfSymbolicLink(atPath: destination + "/etc/calibd/static") == "/usr/local/share/calibd/config/static")
        let unit = try String(contentsOfFile: destination + "/etc/systemd/system/calibd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/calibd --config /etc/calibd/calibd.yaml"))

        // The completion scripts are what the visible verb prints, and bash can read them
        let bashCompletion = root + "/share/bash-completion/completions/calibctl"
        #expect(try runCommand("/bin/bash", ["-n", bashCompletion]).status == 0)
        let verb = try runCommand(Binaries.calibctl, ["completion", "bash"])
        let installed = try String(contentsOfFile: bashCompletion, encoding: .utf8)
        #expect(verb.status == 0 && verb.stdout == installed)
        #expect(verb.stdout.contains("lamp-flux"))

        // And the man page renders, found the way a person finds it
        var manEnvironment = environment
        manEnvironment["MANPATH"] = root + "/share/man"
        manEnvironment["MANWIDTH"] = "100"
        manEnvironment["LC_ALL"] = "C"  // plain ASCII hyphens in the rendered text
        let page = try runCommand("/usr/bin/man", ["calibctl-best"], environment: manEnvironment)
        #expect(page.status == 0, "\(page.stderr)")
        #expect(page.stdout.contains("calibctl-best - The best calibration of a type"), "\(page.stdout.prefix(400))")
        #expect(page.stdout.contains("--type"))
        #expect(page.stdout.contains("EXIT STATUS"))
        let local = try runCommand("/usr/bin/man", ["-l", root + "/share/man/man1/calibd.1"], environment: manEnvironment)
        #expect(local.status == 0 && local.stdout.contains("--once"), "\(local.stderr)")

        // A second install keeps a configuration someone has edited
        try "watch: [/data/raw]\nworkspace: /srv/calibd\n".write(toFile: config, atomically: true, encoding: .utf8)
        let again = try runCommand("/bin/bash", [Self.repository + "/scripts/install.sh", "--bin-dir", Binaries.directory],
                                   environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "watch: [/data/raw]\nworkspace: /srv/calibd\n")
        #expect(again.stdout.contains("kept /etc/calibd/calibd.yaml"))
    }
}
