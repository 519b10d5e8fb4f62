import Foundation

/// Model type names and their normal form.
public enum ModelType {
    /// Normalises a model type: lower-case; `::`, `.` and whitespace runs become `/`;
    /// repeated `/` collapse; leading and trailing `/` are stripped.
    ///
    /// `AWS::EC2::VPC` becomes `aws/ec2/vpc`.
    /// - Throws: ``ContractError`` when the result is empty or contains characters
    ///   that cannot appear in a path segment.
    public static func normalize(_ raw: String) throws -> String {
        var separated = ""
        var previousWasSeparator = false
        let lowered = raw.lowercased().replacingOccurrences(of: "::", with: "/")
        for character in lowered {
            let isSeparator = character == "/" || character == "." || character.isWhitespace
            if isSeparator {
                if !previousWasSeparator { separated.append("/") }
                previousWasSeparator = true
            } else {
                separated.append(character)
                previousWasSeparator = false
            }
        }
        let trimmed = separated.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        guard !trimmed.isEmpty else {
            throw ContractError(.invalidModelType, "model type '\(raw)' is empty after normalisation; use a name like 'command/shell'")
        }
        for scalar in trimmed.unicodeScalars {
            let allowed =
                scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || scalar == "/" || scalar == "-" || scalar == "_" || scalar == "+"
            guard allowed, scalar.isASCII else {
                throw ContractError(
                    .invalidModelType,
                    "model type '\(raw)' contains '\(scalar.escaped(asASCII: true))'; use ASCII letters, digits, '-', '_', '::', '.' or '/'"
                )
            }
        }
        return trimmed
    }
}
