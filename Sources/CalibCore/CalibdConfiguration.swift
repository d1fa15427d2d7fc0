import FITS
import Foundation

/// The daemon's configuration (`config/calibd.yaml`) with its instrument
/// profiles loaded and validated.
///
/// Relative paths in the file are relative to the file's own directory, so a
/// configuration tree can be copied anywhere and still work.
public struct CalibdConfiguration: Sendable {
    /// Raw-data roots watched recursively.
    public var watch: [String]
    /// Where products, job logs and (by default) the database live.
    public var workspace: String
    /// The SQLite file; nil means `<workspace>/calibd.sqlite`.
    public var databaseOverride: String?
    public var workers: Int
    /// How many threads one recipe may keep busy (`recipeThreads:`); nil: one per core.
    /// With N workers or drains on a host, `recipeThreads: 1` keeps N recipes on N cores
    /// instead of N × cores threads contending (`RecipeParallelism`).
    public var recipeThreads: Int?
    public var ingest: IngestSettings
    public var profiles: [InstrumentProfile]
    /// The file this was read from (nil for configurations built in code).
    public var source: String?
    /// Directories besides the watched roots from which `calibctl ingest` may take files.
    public var extraIngestRoots: [String] = []
    /// A group whose members may use the workspace (and so control the
    /// daemon through its database); nil: only the owning user.
    public var controlGroup: String?
    /// Where to write the Prometheus text-format metrics for node-exporter's
    /// textfile collector (`metrics.textfile:`); nil: no metrics file.
    public var metricsTextfile: String?

    /// True when `path` (already resolved) lies inside a watched root or an extra ingest root.
    public func isIngestable(_ path: String) -> Bool {
        (watch + extraIngestRoots).contains { root in
            let base = (root as NSString).standardizingPath
            return path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
        }
    }

    public var database: String {
        databaseOverride ?? (workspace as NSString).appendingPathComponent("calibd.sqlite")
    }

    public var productsDirectory: String { (workspace as NSString).appendingPathComponent("products") }
    public var logsDirectory: String { (workspace as NSString).appendingPathComponent("logs") }
    public var controlSocket: String { (workspace as NSString).appendingPathComponent("calibd.control") }

    public init(watch: [String], workspace: String, databaseOverride: String? = nil, workers: Int = 2,
                ingest: IngestSettings = IngestSettings(), profiles: [InstrumentProfile], source: String? = nil) {
        self.watch = watch; self.workspace = workspace; self.databaseOverride = databaseOverride
        self.workers = workers; self.ingest = ingest; self.profiles = profiles; self.source = source
    }

    /// The profile that claims a header, if any.
    public func profile(for header: FITSHeader) -> InstrumentProfile? {
        profiles.first { $0.identifies(header) }
    }
}

/// How files are taken in.
public struct IngestSettings: Sendable, Codable, Equatable {
    /// A file is taken only when its size and modification time have not
    /// changed for this long after the writer closed it.
    public var stableSeconds: Double = 0.5
    /// Without a template count, a set is complete when no matching frame
    /// arrived for this long after the minimum was reached.
    public var settleSeconds: Double = 300
    /// Full rescan of the watched roots this often, to catch whatever the
    /// kernel's watch could not see (daemon down, queue overflow, NFS).
    public var reconcileSeconds: Double = 600
    /// A truncated file that stays unchanged this long is recorded as a problem.
    public var giveUpSeconds: Double = 30
    /// File-name patterns (globs) never ingested: hidden files, editors' and transfer tools' temporaries.
    public var ignore: [String] = [".*", "*.tmp", "*.part", "*.partial", "*~", "*.swp", "#*#"]
    /// Only names matching one of these are considered raw frames. WHT/ISIS writes `.fit`,
    /// and archives keep such frames gzipped as `.fit.gz`.
    public var include: [String] = ["*.fits", "*.fit", "*.fts", "*.fits.gz", "*.fit.gz", "*.fts.gz", "*.fits.fz", "*.fz"]
    /// A `.gz` file that decompresses to more bytes than this is refused (a decompression bomb);
    /// the check streams, so memory stays bounded whatever the bound. Default 4 GiB.
    public var maxDecompressedBytes: Int64 = 4 << 30

    public init() {}

    enum CodingKeys: String, CodingKey {
        case stableSeconds, settleSeconds, reconcileSeconds, giveUpSeconds, ignore, include, maxDecompressedBytes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = IngestSettings()
        stableSeconds = try c.decodeIfPresent(Double.self, forKey: .stableSeconds) ?? d.stableSeconds
        settleSeconds = try c.decodeIfPresent(Double.self, forKey: .settleSeconds) ?? d.settleSeconds
        reconcileSeconds = try c.decodeIfPresent(Double.self, forKey: .reconcileSeconds) ?? d.reconcileSeconds
        giveUpSeconds = try c.decodeIfPresent(Double.self, forKey: .giveUpSeconds) ?? d.giveUpSeconds
        ignore = try c.decodeIfPresent([String].self, forKey: .ignore) ?? d.ignore
        include = try c.decodeIfPresent([String].self, forKey: .include) ?? d.include
        maxDecompressedBytes = try c.decodeIfPresent(Int64.self, forKey: .maxDecompressedBytes) ?? d.maxDecompressedBytes
    }

    /// True when a file name should be considered at all.
    public func accepts(fileName name: String) -> Bool {
        if ignore.contains(where: { fnmatch($0, name, 0) == 0 }) { return false }
        return include.contains { fnmatch($0, name, 0) == 0 }
    }
}
