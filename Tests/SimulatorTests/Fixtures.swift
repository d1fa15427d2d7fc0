import Foundation
import Testing
@testable import Simulator

/// Shared fixtures. The model JSON is the exact JSON rendering of simechelle-model.yaml
/// (regenerate with: python3 -c 'import yaml,json; print(json.dumps(yaml.safe_load(open("simechelle-model.yaml")), indent=1))').
enum Fixture {
    static let modelJSON = #"""
{
 "name": "SIMECHELLE",
 "arms": [
  {
   "name": "BLUE",
   "echelle": {
    "grooveDensityPerMillimetre": 120.0,
    "blazeAngleDegrees": 41.77,
    "incidenceOffsetDegrees": 0.0,
    "gammaDegrees": 2.0,
    "minimumOrder": 18,
    "maximumOrder": 33
   },
   "camera": {
    "focalLengthMillimetres": 670.0,
    "psfFWHMMillimetres": 0.0915
   },
   "crossDisperser": {
    "kind": "prism",
    "referenceWavelengthNanometres": 436.0,
    "cauchyA": 1.5046,
    "cauchyBNanometres2": 4200.0,
    "angularFactor": 5.0,
    "grooveDensityPerMillimetre": 0.0,
    "direction": 1.0
   },
   "distortion": [
    {
     "xPower": 0,
     "yPower": 2,
     "dxMillimetres": 0.3,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 1,
     "yPower": 1,
     "dxMillimetres": 0.08,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 3,
     "yPower": 0,
     "dxMillimetres": -0.2,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 2,
     "yPower": 0,
     "dxMillimetres": 0.0,
     "dyMillimetres": 0.15
    },
    {
     "xPower": 1,
     "yPower": 2,
     "dxMillimetres": 0.0,
     "dyMillimetres": 0.05
    }
   ],
   "slit": {
    "lengthArcsec": 11.0,
    "plateScaleArcsecPerMillimetre": 14.67,
    "tiltDegrees": 1.0,
    "pinholePositionsArcsec": [
     -4.5,
     -3.0,
     -1.5,
     0.0,
     1.5,
     3.0,
     4.5
    ]
   },
   "throughput": {
    "peak": 0.25,
    "peakWavelengthNanometres": 450.0,
    "widthNanometres": 120.0
   },
   "detector": {
    "physicalSizeMillimetres": 61.44,
    "nominalPixels": 4096,
    "overscanColumns": 32,
    "gainElectronsPerADU": 1.4,
    "readNoiseElectrons": 3.2,
    "biasLevelADU": 1000.0,
    "biasColumnPatternADU": 2.0,
    "biasRowPatternADU": 0.5,
    "darkCurrentElectronsPerSecond": 0.0008,
    "prnuSigma": 0.01,
    "coldPixelFraction": 0.0001,
    "coldPixelResponse": 0.3,
    "hotPixelFraction": 0.0001,
    "hotPixelElectronsPerSecond": 2.0,
    "coldColumns": 2,
    "hotColumns": 1,
    "hotColumnElectronsPerSecond": 0.3,
    "cosmicRayRatePerCm2PerSecond": 0.02,
    "cosmicRayElectronsPerPixel": 2500.0,
    "saturationADU": 65535.0
   },
   "flatLamp": {
    "temperatureKelvin": 5500.0,
    "peakCountsADU": 30000.0,
    "referenceExposureSeconds": 10.0
   },
   "orderDefinitionLamp": {
    "temperatureKelvin": 5500.0,
    "peakCountsADU": 20000.0,
    "referenceExposureSeconds": 10.0
   },
   "arcLamp": {
    "electronsPerSecondPerUnitAmplitude": 5.0,
    "minimumRelativeIntensity": 1.0
   },
   "science": {
    "temperatureKelvin": 5800.0,
    "peakCountsADU": 3000.0,
    "referenceExposureSeconds": 900.0,
    "seeingFWHMArcsec": 1.0,
    "absorptionLines": [
     {
      "wavelengthNanometres": 393.48,
      "depth": 0.85,
      "sigmaNanometres": 0.35
     },
     {
      "wavelengthNanometres": 397.01,
      "depth": 0.85,
      "sigmaNanometres": 0.35
     },
     {
      "wavelengthNanometres": 410.29,
      "depth": 0.5,
      "sigmaNanometres": 0.25
     },
     {
      "wavelengthNanometres": 434.17,
      "depth": 0.5,
      "sigmaNanometres": 0.25
     },
     {
      "wavelengthNanometres": 486.27,
      "depth": 0.5,
      "sigmaNanometres": 0.25
     },
     {
      "wavelengthNanometres": 517.41,
      "depth": 0.4,
      "sigmaNanometres": 0.08
     },
     {
      "wavelengthNanometres": 518.5,
      "depth": 0.4,
      "sigmaNanometres": 0.08
     }
    ]
   },
   "nightDisplacement": {
    "maxShiftPixels": 6.0,
    "maxRotationDegrees": 0.04,
    "maxScaleChange": 0.0003,
    "maxCurvaturePixels": 1.5
   }
  },
  {
   "name": "RED",
   "echelle": {
    "grooveDensityPerMillimetre": 95.0,
    "blazeAngleDegrees": 41.77,
    "incidenceOffsetDegrees": 0.0,
    "gammaDegrees": 2.0,
    "minimumOrder": 14,
    "maximumOrder": 29
   },
   "camera": {
    "focalLengthMillimetres": 540.0,
    "psfFWHMMillimetres": 0.0915
   },
   "crossDisperser": {
    "kind": "prism",
    "referenceWavelengthNanometres": 672.0,
    "cauchyA": 1.6,
    "cauchyBNanometres2": 8000.0,
    "angularFactor": 5.21,
    "grooveDensityPerMillimetre": 0.0,
    "direction": 1.0
   },
   "distortion": [
    {
     "xPower": 0,
     "yPower": 2,
     "dxMillimetres": -0.25,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 1,
     "yPower": 1,
     "dxMillimetres": 0.06,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 3,
     "yPower": 0,
     "dxMillimetres": 0.15,
     "dyMillimetres": 0.0
    },
    {
     "xPower": 2,
     "yPower": 0,
     "dxMillimetres": 0.0,
     "dyMillimetres": -0.12
    },
    {
     "xPower": 1,
     "yPower": 2,
     "dxMillimetres": 0.0,
     "dyMillimetres": 0.04
    }
   ],
   "slit": {
    "lengthArcsec": 11.0,
    "plateScaleArcsecPerMillimetre": 14.67,
    "tiltDegrees": -0.7,
    "pinholePositionsArcsec": [
     -4.5,
     -3.0,
     -1.5,
     0.0,
     1.5,
     3.0,
     4.5
    ]
   },
   "throughput": {
    "peak": 0.22,
    "peakWavelengthNanometres": 700.0,
    "widthNanometres": 200.0
   },
   "detector": {
    "physicalSizeMillimetres": 61.44,
    "nominalPixels": 4096,
    "overscanColumns": 32,
    "gainElectronsPerADU": 1.2,
    "readNoiseElectrons": 3.0,
    "biasLevelADU": 1200.0,
    "biasColumnPatternADU": 1.5,
    "biasRowPatternADU": 0.5,
    "darkCurrentElectronsPerSecond": 0.001,
    "prnuSigma": 0.012,
    "coldPixelFraction": 0.0001,
    "coldPixelResponse": 0.3,
    "hotPixelFraction": 0.00015,
    "hotPixelElectronsPerSecond": 2.0,
    "coldColumns": 1,
    "hotColumns": 2,
    "hotColumnElectronsPerSecond": 0.3,
    "cosmicRayRatePerCm2PerSecond": 0.02,
    "cosmicRayElectronsPerPixel": 2500.0,
    "saturationADU": 65535.0
   },
   "flatLamp": {
    "temperatureKelvin": 3200.0,
    "peakCountsADU": 35000.0,
    "referenceExposureSeconds": 5.0
   },
   "orderDefinitionLamp": {
    "temperatureKelvin": 3200.0,
    "peakCountsADU": 20000.0,
    "referenceExposureSeconds": 5.0
   },
   "arcLamp": {
    "electronsPerSecondPerUnitAmplitude": 5.0,
    "minimumRelativeIntensity": 1.0
   },
   "science": {
    "temperatureKelvin": 5800.0,
    "peakCountsADU": 3000.0,
    "referenceExposureSeconds": 900.0,
    "seeingFWHMArcsec": 1.0,
    "absorptionLines": [
     {
      "wavelengthNanometres": 589.16,
      "depth": 0.6,
      "sigmaNanometres": 0.05
     },
     {
      "wavelengthNanometres": 589.76,
      "depth": 0.6,
      "sigmaNanometres": 0.05
     },
     {
      "wavelengthNanometres": 656.46,
      "depth": 0.6,
      "sigmaNanometres": 0.3
     },
     {
      "wavelengthNanometres": 760.5,
      "depth": 0.7,
      "sigmaNanometres": 0.6
     },
     {
      "wavelengthNanometres": 850.27,
      "depth": 0.5,
      "sigmaNanometres": 0.1
     },
     {
      "wavelengthNanometres": 854.44,
      "depth": 0.5,
      "sigmaNanometres": 0.1
     },
     {
      "wavelengthNanometres": 866.45,
      "depth": 0.5,
      "sigmaNanometres": 0.1
     }
    ]
   },
   "nightDisplacement": {
    "maxShiftPixels": 6.0,
    "maxRotationDegrees": 0.04,
    "maxScaleChange": 0.0003,
    "maxCurvaturePixels": 1.5
   }
  }
 ]
}
"""#

    static let model: EchelleInstrumentModel = {
        try! JSONDecoder().decode(EchelleInstrumentModel.self, from: Data(modelJSON.utf8))
    }()

    static var blue: EchelleArmModel { model.arms[0] }
    static var red: EchelleArmModel { model.arms[1] }

    /// Blue arm with cosmic rays switched off (for tests that integrate fluxes).
    static var blueNoCosmics: EchelleArmModel {
        var m = blue
        m.detector.cosmicRayRatePerCm2PerSecond = 0
        return m
    }

    /// The laboratory ThAr list: the test fixture copy, or the main repo's config copy; a synthetic list otherwise.
    static let lines: [ArcLine] = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        var candidates = [here.appendingPathComponent("Fixtures/thar_nist_pypeit.dat")]
        var dir = here
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("config/linelists/thar_nist_pypeit.dat"))
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates {
            if let text = try? String(contentsOf: c, encoding: .utf8) { return ArcLineList.parse(text) }
        }
        var rng = Xoshiro256StarStar(keys: 99)
        return (0..<8000).map { _ in
            ArcLine(wavelength: 350 + 700 * rng.uniform(), relativeIntensity: (pow(10, 4 * rng.uniform())).rounded(), ion: "Th_I")
        }.sorted { $0.wavelength < $1.wavelength }
    }()

    static let blueArm1024 = SimulatedArm(model: blueNoCosmics, size: 1024, nightSeed: 11)
    static let blueDetector1024 = SimulatedDetector(model: blueNoCosmics, size: 1024, seed: 5)
    static let blueRenderer1024 = FrameRenderer(arm: blueArm1024, detector: blueDetector1024, lines: lines)
    /// Only the stronger lines (amplitude ≥ 300): at 4× binning the full ThAr forest leaves no line isolated.
    static let blueBrightRenderer1024 = FrameRenderer(arm: blueArm1024, detector: blueDetector1024,
                                                      lines: lines.filter { $0.relativeIntensity >= 300 })
    static let redArm1024 = SimulatedArm(model: red, size: 1024, nightSeed: 12)
}
