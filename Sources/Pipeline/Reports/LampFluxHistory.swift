import CalibCore
import CalibDB
import FITS
import Foundation

/// A lamp's line fluxes across nights, from its LAMP_FLUX products, so that
/// an ageing lamp (or a dirtying fibre) is seen before its lines drop below
/// what the dispersion solution needs.
///
/// Lines are matched across nights by (order, wavelength to 1 pm). A
/// night's *trend* is the median over lines present in both of
/// flux / flux on the reference (first) night − 1: a median, so that a line
/// that saturates or is blended on one night does not move the verdict.
/// Saturated lines (flagged in the product, NaN flux) are absent from the
/// ratios; lines never measured are left out.
public struct LampFluxHistory: Sendable, Encodable {
    public struct Night: Sendable, Encodable {
        public var night: String
        public var productId: Int64
        public var setup: String
        public var lamp: String
        /// Median flux ratio to the reference night − 1 (0 for the reference itself, nil when no line is shared).
        public var medianChange: Double?
        public var sharedLines: Int
    }

    public struct Line: Sendable, Encodable {
        public var order: Int
        public var wavelength: Double
        /// ADU/s per night (same order as `nights`), nil where not measured or saturated (JSON has no NaN).
        public var fluxADUPerSecond: [Double?]
    }

    public var nights: [Night]
    public var lines: [Line]

    struct Key: Hashable { var order: Int; var picometres: Int64 }

    /// Reads the LINE_FLUXES table of each product (oldest first). A product
    /// whose file cannot be read is reported through `skipped`, not fatal.
    public static func load(_ products: [ProductRecord], skipped: inout [String]) -> LampFluxHistory {
        let sorted = products.sorted { ($0.mjd, $0.id ?? 0) < ($1.mjd, $1.id ?? 0) }
        var perNight: [(product: ProductRecord, lamp: String, fluxes: [Key: Double])] = []
        for product in sorted {
            do {
                let file = try FITSFile.open(product.path)
                defer { try? file.close() }
                _ = try file.moveTo(extensionName: "LINE_FLUXES")
                let header = try file.readHeader()
                let table = try file.readTable()
                guard let orders = table.ints("ORDER"), let wavelengths = table.doubles("WAVELENGTH"),
                      let fluxes = table.doubles("FLUX_ADU_S") else {
                    skipped.append("\(product.path): LINE_FLUXES lacks ORDER, WAVELENGTH or FLUX_ADU_S")
                    continue
                }
                var byKey: [Key: Double] = [:]
                for i in orders.indices {
                    byKey[Key(order: Int(orders[i]), picometres: Int64((wavelengths[i] * 1000).rounded()))] = fluxes[i]
                }
                perNight.append((product, header.string("LAMP") ?? "", byKey))
            } catch {
                skipped.append("\(product.path): \(error)")
            }
        }
        let keys = Set(perNight.flatMap { $0.fluxes.keys }).sorted { ($0.order, $0.picometres) < ($1.order, $1.picometres) }
        let lines = keys.map { key in
            Line(order: key.order, wavelength: Double(key.picometres) / 1000,
                 fluxADUPerSecond: perNight.map { $0.fluxes[key].flatMap { $0.isFinite ? $0 : nil } })
        }.filter { $0.fluxADUPerSecond.contains { $0 != nil } }
        let nights = perNight.indices.map { n -> Night in
            let ratios = lines.compactMap { line -> Double? in
                guard let a = line.fluxADUPerSecond[0], let b = line.fluxADUPerSecond[n], a > 0 else { return nil }
                return b / a
            }.sorted()
            let median: Double? = ratios.isEmpty ? nil
                : (ratios.count % 2 == 1 ? ratios[ratios.count / 2] : 0.5 * (ratios[ratios.count / 2 - 1] + ratios[ratios.count / 2]))
            let p = perNight[n].product
            return Night(night: p.night, productId: p.id ?? 0, setup: p.setup, lamp: perNight[n].lamp,
                         medianChange: median.map { $0 - 1 }, sharedLines: ratios.count)
        }
        return LampFluxHistory(nights: nights, lines: lines)
    }
}
