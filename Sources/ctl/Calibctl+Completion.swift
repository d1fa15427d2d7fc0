import ArgumentParser

extension Calibctl {
    /// Shell completions as a visible verb (the parser's
    /// `--generate-completion-script` flag is hidden from `--help`).
    struct Completion: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the shell completion script for calibctl (bash, zsh or fish).",
            discussion: """
                scripts/install.sh installs them; by hand:
                  calibctl completion bash > /etc/bash_completion.d/calibctl
                  calibctl completion zsh > /usr/local/share/zsh/site-functions/_calibctl
                  calibctl completion fish > ~/.config/fish/completions/calibctl.fish
                """)
        @Argument(help: "bash, zsh or fish.") var shell: String

        func validate() throws {
            guard CompletionShell(rawValue: shell) != nil else { throw ValidationError("shell must be bash, zsh or fish, got '\(shell)'") }
        }

        func run() throws {
            print(Calibctl.completionScript(for: CompletionShell(rawValue: shell)!))
        }
    }
}
