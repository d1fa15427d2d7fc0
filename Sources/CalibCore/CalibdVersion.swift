/// The version every calibd binary reports with `--version`.
///
/// One constant rather than `git describe` at build time: SwiftPM has no
/// build-time hook that could run git without a build-tool plugin, and a
/// plugin would run on every build. Raise it when a release is cut, in the
/// same commit as the README's change notes.
public enum CalibdVersion {
    public static let current = "0.9.0"
}
