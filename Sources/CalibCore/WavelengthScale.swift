import Foundation

/// Whether wavelengths are measured in air (standard dry air, 15 °C, 101 325 Pa)
/// or in vacuum. Line lists and instrument models do not always agree: ESO's
/// X-shooter UVB/VIS physical-model tables are in air while the ThAr lists
/// shipped beside them (NIST/Murphy) are in vacuum, a difference of
/// 0.15–0.27 nm over 300–1000 nm — tens of pixels at R ≈ 10 000.
public enum WavelengthScale: String, Sendable, Codable, Equatable {
    case air
    case vacuum

    /// λ_air from λ_vac (both nm), the IAU standard of Morton (2000, ApJS 130,
    /// 403, eq. 3; Ciddor 1996 refractivity): n − 1 = 8.34254·10⁻⁵ +
    /// 2.406147·10⁻² / (130 − σ²) + 1.5998·10⁻⁴ / (38.9 − σ²), σ = 10⁴ / λ_Å
    /// in µm⁻¹. Accurate to ~10⁻⁵ nm over 200 nm – 2.5 µm; below 200 nm
    /// (where air wavelengths are not used) it returns the input. NaN in, NaN out.
    public static func airFromVacuum(_ vacuumNm: Double) -> Double {
        guard vacuumNm >= 200 else { return vacuumNm }
        let sigma2 = pow(1e4 / (vacuumNm * 10), 2)
        let n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - sigma2) + 1.5998e-4 / (38.9 - sigma2)
        return vacuumNm / n
    }

    /// λ on scale `target` of a wavelength `nm` given on this scale. The
    /// inverse (air → vacuum) solves Morton's relation by fixed-point
    /// iteration to < 10⁻⁹ nm.
    public func convert(_ nm: Double, to target: WavelengthScale) -> Double {
        switch (self, target) {
        case (.air, .air), (.vacuum, .vacuum): return nm
        case (.vacuum, .air): return Self.airFromVacuum(nm)
        case (.air, .vacuum):
            var vacuum = nm
            for _ in 0..<5 { vacuum += nm - Self.airFromVacuum(vacuum) }
            return vacuum
        }
    }
}
