import Foundation
import Yams

/// A slit mask as the instrument's configuration describes it (`config/static/<NAME>_mask.yaml`):
/// the slits and reference holes of a multi-object (MOS) mask, or the single slit of a long-slit
/// mode. Shared by the simulator (which renders it) and the optical-model recipe (which finds it).
///
/// Mask coordinates in millimetres, origin at the mask centre: X along the slits' nominal length
/// (it maps to the detector's spatial axis x), Y across them (it maps to the dispersion axis y).
/// A slit's angle is that of its long axis from the mask's X axis, in degrees; its ends are cut
/// parallel to Y (the dispersion), so that a continuum lamp lights a band with straight-cut edges.
public struct SlitMaskDescription: Codable, Sendable, Equatable {
    public struct Slit: Codable, Sendable, Equatable {
        public var id: String
        /// Centre on the mask, mm.
        public var x: Double
        public var y: Double
        /// Length along the slit's axis and width across it, mm.
        public var length: Double
        public var width: Double
        /// Angle of the long axis from the mask's X axis, degrees.
        public var angle: Double

        public init(id: String, x: Double, y: Double, length: Double, width: Double, angle: Double) {
            self.id = id; self.x = x; self.y = y; self.length = length; self.width = width; self.angle = angle
        }

        /// A point on the slit's centre line, `s` mm from its centre along the axis.
        public func point(along s: Double) -> (x: Double, y: Double) {
            let a = angle * .pi / 180
            return (x + s * cos(a), y + s * sin(a))
        }

        /// The two ends of the centre line (s = −length/2, +length/2).
        public var ends: [(x: Double, y: Double)] { [point(along: -length / 2), point(along: length / 2)] }
    }

    /// A square reference hole (for the mask alignment), centre and side in mm.
    public struct Hole: Codable, Sendable, Equatable {
        public var id: String
        public var x: Double
        public var y: Double
        public var size: Double

        public init(id: String, x: Double, y: Double, size: Double) {
            self.id = id; self.x = x; self.y = y; self.size = size
        }

        /// The hole as a short slit along X, so that one code path renders and traces both.
        public var asSlit: Slit { Slit(id: id, x: x, y: y, length: size, width: size, angle: 0) }
    }

    public var name: String
    public var slits: [Slit]
    public var holes: [Hole]

    public init(name: String, slits: [Slit], holes: [Hole] = []) {
        self.name = name; self.slits = slits; self.holes = holes
    }

    /// A single slit and no holes: the long-slit case, in which only the slit's two ends fix
    /// the mapping along the slit.
    public var isLongSlit: Bool { slits.count == 1 && holes.isEmpty }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses a mask file; slits must have positive length and width and unique ids.
    public static func parse(yaml text: String, source: String) throws(Failure) -> SlitMaskDescription {
        let mask: SlitMaskDescription
        do { mask = try YAMLDecoder().decode(SlitMaskDescription.self, from: text) } catch {
            throw Failure(description: "\(source): not a slit mask description (name, slits: [id, x, y, length, width, angle], holes): \(error)")
        }
        guard !mask.slits.isEmpty else { throw Failure(description: "\(source): the mask has no slit") }
        for slit in mask.slits where !(slit.length > 0 && slit.width > 0) {
            throw Failure(description: "\(source): slit \(slit.id) needs a positive length and width (found \(slit.length) × \(slit.width) mm)")
        }
        let ids = mask.slits.map(\.id) + mask.holes.map(\.id)
        guard Set(ids).count == ids.count else { throw Failure(description: "\(source): slit and hole ids must be unique") }
        return mask
    }
}
