import CalibCore
import Recipes

// What each executor declares about itself: the parameters it reads, the QC
// metrics its products carry and the static files it needs. Kept together so
// that the lists can be read against each other and against the profiles;
// `RecipeDeclarationTests` checks every metric of a real night's products
// against them, so a metric added to a recipe and not here fails a test.

extension MasterBiasExecutor {
    var parameterNames: Set<String> { MasterBias.parameterNames }
    var metricNames: Set<String> {
        ["biasLevelADU", "readNoiseADU", "masterNoiseADU", "frameCount", "rejectedFraction", "readNoiseElectrons",
         "overscanLevelADU", "scienceMinusOverscanADU", "columnStructureADU", "rowStructureADU", "hotColumnCount"]
    }
}

extension MasterDarkExecutor {
    var parameterNames: Set<String> { MasterDark.parameterNames }
    var metricNames: Set<String> {
        ["darkCurrent", "darkCurrentMedian", "darkNoise", "darkLevelADU", "darkLevelMedianADU", "darkNoiseADU", "hotPixelCount", "hotPixelFraction", "hotColumnCount",
         "frameCount", "rejectedFraction"]
    }
}

extension OrderTraceExecutor {
    var parameterNames: Set<String> { OrderTrace.parameterNames }
    var metricNames: Set<String> {
        ["orderCount", "firstOrder", "lastOrder", "detections", "clippedFraction", "centreResidualRMS",
         "centreResidualMax", "orderDegree", "yDegree"]
    }
}

extension MasterFlatExecutor {
    /// The one-lamp master's parameters and, for two-lamp setups, the stitch's.
    var parameterNames: Set<String> { MasterFlat.parameterNames.union(StitchedMasterFlat.parameterNames) }
    var metricNames: Set<String> {
        ["frameCount", "rejectedFrames", "exposureLevelADU", "stackRejectedFraction", "orderCount", "coldPixelCount",
         "coldPixelFraction", "lowSensitivityCount", "coldColumnCount", "innerOrderMean", "innerOrderSum", "responseSigma",
         "interOrderP10", "interOrderP50", "interOrderP90", "edgeResidualMax", "edgeResidualMin", "edgeResidualSD",
         "edgeOrderDegree", "edgeYDegree", "plateauMarginPixels",
         // subtractBackground: 1
         "backgroundMedianFraction", "backgroundMaxFraction", "backgroundFailedRows", "backgroundResidualSigma",
         "backgroundMarginPixels",
         // two lamps stitched
         "stitchOrder", "stitchScale", "stitchScaleApplied", "stitchScaleScatter", "stitchScaleRows", "blueLampFrames",
         "redLampFrames", "blueLampOrderCount", "redLampOrderCount", "blueLampEdgeResidualSD", "redLampEdgeResidualSD"]
    }
}

extension FlatBlazeExecutor {
    var parameterNames: Set<String> { FlatBlaze.parameterNames }
    /// Over its three products (FLAT, BLAZE, E2DS).
    var metricNames: Set<String> {
        ["flatStdMax", "failedOrderCount", "fallbackOrderCount", "blazeResidualMax", "lampLevelSpread",
         "flaggedRowFraction", "orderCount"]
    }
}

/// The dispersion fits' QC, as SOXSPIPE reports it (`DispersionMapFit.metrics`).
private let dispersionMetricNames: Set<String> = {
    var names: Set<String> = ["linesTotal", "linesDetected", "linesDetectedFraction", "linesClipped", "linesClippedFraction",
                              "offsetXMedian", "offsetXSD", "offsetYMedian", "offsetYSD", "shiftXAtCentre", "shiftYAtCentre",
                              "fwhmMedian", "resolvingPowerMedian"]
    for axis in ["X", "Y", "XY"] { for figure in ["Max", "Min", "Median", "SD"] { names.insert("residual\(axis)\(figure)") } }
    return names
}()

extension DispersionSolutionExecutor {
    var parameterNames: Set<String> { DispersionMapFit.parameterNames }
    var metricNames: Set<String> { dispersionMetricNames }
    var staticFileSuffixes: [String] { [ArcFrameLoader.pinholeMapSuffix] }
}

extension SpatialSolutionExecutor {
    var parameterNames: Set<String> { DispersionMapFit.parameterNames }
    var metricNames: Set<String> { dispersionMetricNames.union(["mappedPixelFraction"]) }
    var staticFileSuffixes: [String] { [ArcFrameLoader.pinholeMapSuffix] }
}

extension LampFluxExecutor {
    var parameterNames: Set<String> { LampLineFlux.parameterNames }
    var metricNames: Set<String> {
        ["linesTotal", "linesMeasured", "linesMeasuredFraction", "linesSaturated", "medianLineFluxADUPerSecond",
         "maxLineFluxADUPerSecond"]
    }
    var staticFileSuffixes: [String] { [ArcFrameLoader.pinholeMapSuffix] }
}

extension SlitEdgesExecutor {
    var parameterNames: Set<String> { SlitEdgeTrace.parameterNames }
    var metricNames: Set<String> {
        ["slitLeftEdge", "slitRightEdge", "illuminatedLeftEdge", "illuminatedRightEdge", "slitLength", "edgeFitRMS", "blocksUsed", "edgesAtBorder",
         "frameCount", "rejectedFrames"]
    }
}

extension LongSlitPixelFlatExecutor {
    var parameterNames: Set<String> { LongSlitPixelFlat.parameterNames }
    var metricNames: Set<String> {
        ["pixelResponseRMS", "pixelResponseSigma", "pixelResponseMedian", "flaggedFraction", "unmeasuredRowFraction",
         "illuminationMin", "illuminationMax", "blockResidualMax", "lampSpectrumMax", "frameCount", "rejectedFrames"]
    }
}

extension LongSlitWavelengthExecutor {
    var parameterNames: Set<String> { LongSlitWavelengthSolution.parameterNames }
    var metricNames: Set<String> {
        ["linesDetected", "linesUsed", "rmsPixels", "rmsWavelength", "wavelengthStart", "wavelengthEnd", "dispersionCentre",
         "lineCoverageStart", "lineCoverageEnd", "tiltRMS", "tiltLinesTraced", "tiltMaximumShift"]
    }
}

extension OpticalModelExecutor {
    var parameterNames: Set<String> { OpticalModelFinder.parameterNames }
    var metricNames: Set<String> {
        ["aperturesExpected", "aperturesFound", "optRMSX", "optRMSY", "flipX", "flipY", "scaleX", "dispersionScale"]
    }
}

extension MultiSlitEdgesExecutor {
    var parameterNames: Set<String> { MultiSlitEdgeTrace.parameterNames }
    var metricNames: Set<String> { ["slitsTraced", "slitsExpected", "edgeFitRMS", "frameCount", "rejectedFrames"] }
}

extension MultiSlitWavelengthExecutor {
    var parameterNames: Set<String> { LongSlitWavelengthSolution.parameterNames.union(Self.ownParameters) }
    var metricNames: Set<String> { ["slitsSolved", "slitsExpected", "rmsPixelsMax", "linesUsedMin", "slitsTraced", "tiltRMSMax"] }
}
