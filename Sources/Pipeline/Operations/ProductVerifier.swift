import CalibDB
import Foundation

/// Checks that the database and the product files agree, and repairs on request.
public struct ProductVerifier: Sendable {
    public let database: any CalibrationRegistry
    public let productsDirectory: String

    public init(database: any CalibrationRegistry, productsDirectory: String) {
        self.database = database; self.productsDirectory = productsDirectory
    }

    public struct Entry: Codable, Sendable { public var id: Int64; public var type: String; public var path: String }

    public struct Report: Codable, Sendable {
        public var checked = 0
        public var missing: [Entry] = []
        public var modified: [Entry] = []
        public var unrecorded: [String] = []
        public var isClean: Bool { missing.isEmpty && modified.isEmpty && unrecorded.isEmpty }
    }

    public var quarantineDirectory: String { (productsDirectory as NSString).appendingPathComponent("quarantine") }

    public func verify(repair: Bool, requestedBy who: String) throws -> Report {
        var report = Report()
        let products = try database.products().filter { $0.availability == .available }
        var recorded: Set<String> = []
        for product in products {
            report.checked += 1
            recorded.insert(product.path)
            let entry = Entry(id: product.id!, type: product.productType.rawValue, path: product.path)
            guard FileManager.default.fileExists(atPath: product.path) else {
                report.missing.append(entry)
                if repair {
                    try database.setAvailability(productId: product.id!, .missing)
                    try? database.rerun(jobId: product.jobId, requestedBy: "\(who) (verify --repair: file missing)")
                }
                continue
            }
            if try ContentChecksum.sha256(ofFile: product.path) != product.checksum {
                report.modified.append(entry)
                if repair {
                    try quarantine(product.path)
                    try database.setAvailability(productId: product.id!, .quarantined)
                    try? database.rerun(jobId: product.jobId, requestedBy: "\(who) (verify --repair: file changed)")
                }
            }
        }
        // Every recorded path, including missing/quarantined ones, counts as known.
        for product in try database.products() { recorded.insert(product.path) }
        if let walker = FileManager.default.enumerator(atPath: productsDirectory) {
            for case let relative as String in walker {
                let path = (productsDirectory as NSString).appendingPathComponent(relative)
                if path.hasPrefix(quarantineDirectory + "/") { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                // QC plots and other sidecars live beside products and belong to them.
                guard path.hasSuffix(".fits"), !(relative as NSString).lastPathComponent.hasPrefix(ProductWriter.temporaryPrefix) else { continue }
                if !recorded.contains(path), try !isInProgress(path) {
                    report.unrecorded.append(path)
                    if repair { try quarantine(path) }
                }
            }
        }
        report.unrecorded.sort()
        return report
    }

    /// True for a product file the daemon is about to record: the writer
    /// renames a product into place before the transaction that records it,
    /// and a retried attempt rewrites the file of the attempt before. Its
    /// name carries its job (`…_j12.fits`, `…_j12g1.fits`); while that job is
    /// running or queued the file is work in progress, not an orphan. Checked
    /// in this order (job, then the file's record) so that a job finishing in
    /// between is seen with its product recorded.
    func isInProgress(_ path: String) throws -> Bool {
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let marker = name.range(of: "_j", options: .backwards) else { return false }
        let digits = name[marker.upperBound...].prefix { $0.isNumber }
        guard let jobId = Int64(digits) else { return false }
        if let job = try database.job(id: jobId), job.state == .running || job.state == .queued { return true }
        return try database.product(path: path) != nil
    }

    /// Moves a file aside (never deletes: a person decides).
    func quarantine(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: quarantineDirectory, withIntermediateDirectories: true)
        let target = (quarantineDirectory as NSString).appendingPathComponent(
            "\(Int(Date().timeIntervalSince1970))-\((path as NSString).lastPathComponent)")
        try FileManager.default.moveItem(atPath: path, toPath: target)
    }
}
