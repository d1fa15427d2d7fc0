import Foundation

/// Writes man(7) pages, one per command and verb (`calibctl-best.1`,
/// `calibctl-qc-show.1`), from the argument definitions an ArgumentParser
/// tool prints with `--experimental-dump-help`.
///
/// Why not the package's `generate-manual` plugin: it names pages
/// `calibctl.best.1` (so `man calibctl-best` finds nothing) and runs through
/// `swift package`, which an install from built binaries should not need.
/// The dump is the parser's own description of the command line, so the
/// pages cannot drift from `--help`.
struct ManualPageWriter {
    /// The subset of ArgumentParser's ToolInfoV0 the pages use.
    struct ToolInfo: Decodable { var command: Command }
    struct Command: Decodable {
        var superCommands: [String]?
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var subcommands: [Command]?
        var arguments: [Argument]?
    }
    struct Argument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String
        var shouldDisplay: Bool?
        var isOptional: Bool?
        var isRepeating: Bool?
        var names: [Name]?
        var preferredName: Name?
        var valueName: String?
        var defaultValue: String?
        var abstract: String?
        var discussion: String?
    }

    var version: String
    var date: String
    /// The EXIT STATUS section, as lines of "status<TAB>meaning".
    var exitStatuses: [(Int32, String)]

    /// Every page of `info`, by file name.
    func pages(_ info: ToolInfo) -> [(name: String, text: String)] {
        var out: [(String, String)] = []
        func visit(_ command: Command) {
            guard command.shouldDisplay ?? true else { return }
            out.append((pageName(command) + ".1", page(command)))
            for sub in command.subcommands ?? [] { visit(sub) }
        }
        visit(info.command)
        return out
    }

    func pageName(_ command: Command) -> String {
        ((command.superCommands ?? []) + [command.commandName]).joined(separator: "-")
    }

    func page(_ command: Command) -> String {
        let name = pageName(command)
        let invocation = ((command.superCommands ?? []) + [command.commandName]).joined(separator: " ")
        let arguments = (command.arguments ?? []).filter { ($0.shouldDisplay ?? true) && !["help", "version"].contains($0.preferredName?.name ?? "") }
        var lines = [
            ".TH \(name.uppercased()) 1 \"\(date)\" \"calibd \(version)\" \"calibd manual\"",
            ".SH NAME",
            "\(escape(name)) \\- \(escape(command.abstract ?? ""))",
            ".SH SYNOPSIS",
            ".B \(escape(invocation))",
        ]
        let visibleSubcommands = (command.subcommands ?? []).filter { $0.shouldDisplay ?? true }
        if !visibleSubcommands.isEmpty { lines.append("\\fIverb\\fR ...") }
        for argument in arguments { lines.append(synopsis(argument)) }
        if let discussion = command.discussion, !discussion.isEmpty {
            lines.append(".SH DESCRIPTION")
            lines += paragraphs(discussion)
        }
        if !visibleSubcommands.isEmpty {
            lines.append(".SH VERBS")
            for sub in visibleSubcommands {
                lines += [".TP", "\\fB\(escape(sub.commandName))\\fR", "\(escape(sub.abstract ?? "")) See \\fB\(escape(pageName(sub)))\\fR(1)."]
            }
        }
        if !arguments.isEmpty {
            lines.append(".SH OPTIONS")
            for argument in arguments {
                lines += [".TP", label(argument)]
                var text = argument.abstract ?? ""
                if let value = argument.defaultValue, !value.isEmpty { text += " (default: \(value))" }
                lines.append(escape(text))
                if let more = argument.discussion, !more.isEmpty { lines += paragraphs(more) }
            }
        }
        lines.append(".SH EXIT STATUS")
        for (status, meaning) in exitStatuses { lines += [".TP", "\\fB\(status)\\fR", escape(meaning)] }
        lines.append(".SH SEE ALSO")
        let root = command.superCommands?.first ?? command.commandName
        lines.append(name == root ? "The README of calibd; \\fBcalibd\\fR(1)." : "\\fB\(escape(root))\\fR(1)")
        return lines.joined(separator: "\n") + "\n"
    }

    func label(_ argument: Argument) -> String {
        let names = (argument.names ?? []).map { n in
            "\\fB" + escape((n.kind == "short" ? "-" : n.kind == "longWithSingleDash" ? "-" : "--") + n.name) + "\\fR"
        }.joined(separator: ", ")
        let value = argument.valueName.map { "\\fI\(escape($0))\\fR" } ?? ""
        switch argument.kind {
        case "positional": return value.isEmpty ? "\\fI\(escape(argument.preferredName?.name ?? "value"))\\fR" : value
        case "flag": return names
        default: return names + (value.isEmpty ? "" : " " + value)
        }
    }

    func synopsis(_ argument: Argument) -> String {
        var text = argument.kind == "positional" ? label(argument) : {
            let n = argument.preferredName.map { "\\fB" + escape(($0.kind == "short" ? "-" : "--") + $0.name) + "\\fR" } ?? ""
            return argument.kind == "flag" ? n : n + " \\fI" + escape(argument.valueName ?? "value") + "\\fR"
        }()
        if argument.isRepeating ?? false { text += " ..." }
        return (argument.isOptional ?? false) ? "[" + text + "]" : text
    }

    /// Paragraphs of a help discussion; indented lines (examples, tables) stay as they are.
    func paragraphs(_ text: String) -> [String] {
        var out: [String] = []
        var inExample = false
        for line in text.components(separatedBy: "\n") {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if inExample { out += [".RE", ".fi"]; inExample = false }
                out.append(".PP")
            } else if line.hasPrefix("  ") {
                if !inExample { out += [".nf", ".RS 4"]; inExample = true }
                out.append(escape(line.trimmingCharacters(in: .whitespaces)))
            } else {
                if inExample { out += [".RE", ".fi"]; inExample = false }
                out.append(escape(line))
            }
        }
        if inExample { out += [".RE", ".fi"] }
        return out
    }

    /// roff: backslashes and hyphens escaped, a leading dot or quote protected.
    func escape(_ text: String) -> String {
        var s = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if s.hasPrefix(".") || s.hasPrefix("'") { s = "\\&" + s }
        return s
    }
}
