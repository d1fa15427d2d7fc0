import CalibCore
import CalibDB
import FITS
import Foundation
import Glibc
import Logging
import Recipes

/// Everything a recipe run needs, gathered by the job runner.
public struct JobContext: Sendable {
    public var job: JobRecord
    public var spec: RecipeSpec
    public var profile: InstrumentProfile
    public var inputs: [FrameListing]
    /// Upstream calibrations chosen for this job, by type.
    public var calibrations: [ProductType: ProductRecord]
    public var logger: Logger
    /// Lamp-off frames planned with the set (`InputSpec.lampOff`), subtracted in place of an MBIAS; not in `inputs`.
    public var lampOffInputs: [FrameListing] = []

    public init(job: JobRecord, spec: RecipeSpec, profile: InstrumentProfile, inputs: [FrameListing],
                calibrations: [ProductType: ProductRecord], logger: Logger, lampOffInputs: [FrameListing] = []) {
        self.job = job; self.spec = spec; self.profile = profile; self.inputs = inputs
        self.calibrations = calibrations; self.logger = logger; self.lampOffInputs = lampOffInputs
    }

    /// The first readable path of each input frame, in time order.
    public var inputPaths: [String] {
        get throws { try Self.readablePaths(inputs) }
    }

    /// The first readable path of each lamp-off frame, in time order.
    public var lampOffPaths: [String] {
        get throws { try Self.readablePaths(lampOffInputs) }
    }

    static func readablePaths(_ listings: [FrameListing]) throws -> [String] {
        try listings.map { listing in
            // A path whose file no longer has the recorded size holds other bytes now (replaced in place).
            guard let path = listing.paths.first(where: { path in
                var info = stat()
                return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && Int64(info.st_size) == listing.frame.sizeBytes
                    && FileManager.default.isReadableFile(atPath: path)
            }) else {
                throw InputFrameGone(frameId: listing.frame.id!, path: listing.frame.path)
            }
            return path
        }
    }
}

/// One HDU of a product.
public enum ProductHDU: Sendable {
    case image(Image, name: String?, header: FITSHeader)
    case table(FITSTable, name: String, header: FITSHeader)
}

/// A product a recipe made, before it is written.
public struct ProductOutput: Sendable {
    public var type: ProductType
    public var hdus: [ProductHDU]
    public var metrics: [QCMeasurement]
    /// Mean MJD of the inputs: the product's time for association.
    public var mjd: Double
    /// Files written beside the product (QC plots), named after it.
    public var attachments: [ProductAttachment]

    public init(type: ProductType, hdus: [ProductHDU], metrics: [QCMeasurement], mjd: Double,
                attachments: [ProductAttachment] = []) {
        self.type = type; self.hdus = hdus; self.metrics = metrics; self.mjd = mjd; self.attachments = attachments
    }
}

/// A file that accompanies a product, e.g. its QC plot: written as
/// `<product path without .fits><suffix>` after the product itself.
public struct ProductAttachment: Sendable {
    /// Appended to the product's base name, e.g. `_qc.svg`.
    public var suffix: String
    public var contents: Data

    public init(suffix: String, contents: Data) { self.suffix = suffix; self.contents = contents }
}

/// Runs one recipe over a job's inputs: reads the files, calls the numerical
/// recipe, returns products. Writing and recording happen in the job runner.
public protocol RecipeExecutor: Sendable {
    var name: String { get }
    var version: String { get }
    /// Every parameter name the recipe reads (without `[key=value]` scopes), so
    /// that a misspelt parameter is refused when the configuration loads, not
    /// when the job runs in the middle of the night.
    var parameterNames: Set<String> { get }
    /// Every QC metric name the recipe's products may carry, so that a QC range
    /// on a misspelt metric (which would silently never be applied) is refused at load.
    var metricNames: Set<String> { get }
    /// Static files the recipe reads, as suffixes of
    /// `<config>/static/<INSTRUMENT>[_<ARM>]<suffix>` (see `ArcFrameLoader.staticPath`),
    /// checked at load so that a missing one is not found only when its job runs.
    var staticFileSuffixes: [String] { get }
    func execute(_ context: JobContext) throws -> [ProductOutput]
}

extension RecipeExecutor {
    public var staticFileSuffixes: [String] { [] }
}

/// The recipe implementations calibd knows, by the name profiles use.
public enum RecipeCatalog {
    public static let executors: [String: any RecipeExecutor] = [
        MasterBiasExecutor().name: MasterBiasExecutor(),
        FlatBlazeExecutor().name: FlatBlazeExecutor(),
        MasterDarkExecutor().name: MasterDarkExecutor(),
        OrderTraceExecutor().name: OrderTraceExecutor(),
        MasterFlatExecutor().name: MasterFlatExecutor(),
        DispersionSolutionExecutor().name: DispersionSolutionExecutor(),
        SpatialSolutionExecutor().name: SpatialSolutionExecutor(),
        LampFluxExecutor().name: LampFluxExecutor(),
        SlitEdgesExecutor().name: SlitEdgesExecutor(),
        LongSlitPixelFlatExecutor().name: LongSlitPixelFlatExecutor(),
        LongSlitWavelengthExecutor().name: LongSlitWavelengthExecutor(),
        OpticalModelExecutor().name: OpticalModelExecutor(),
        MultiSlitEdgesExecutor().name: MultiSlitEdgesExecutor(),
        MultiSlitWavelengthExecutor().name: MultiSlitWavelengthExecutor(),
    ]

    public static func executor(named name: String) throws -> any RecipeExecutor {
        guard let executor = executors[name] else { throw PipelineError.unknownRecipe(name) }
        return executor
    }
}
