import AsyncHTTPClient
import Foundation
import Logging

/// The AWS CLI's credential chain, in its documented order:
/// 1. environment keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. the profile's `role_arn` with `source_profile` or `credential_source` (STS `AssumeRole`);
/// 3. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, or the profile's
///    `web_identity_token_file` + `role_arn` (STS `AssumeRoleWithWebIdentity`);
/// 4. the profile's SSO settings (the token `aws sso login` cached);
/// 5. the profile's keys in `~/.aws/credentials`;
/// 6. the profile's `credential_process`;
/// 7. the profile's keys in `~/.aws/config`;
/// 8. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`);
/// 9. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.
///
/// The profile is `AWS_PROFILE` (else `AWS_DEFAULT_PROFILE`, else `default`). The first source
/// that is *configured* is the one used: if it then fails, the error is its own and names it
/// (the chain does not fall through to a source the user did not mean). Choosing reads files
/// and variables only; no request is sent until credentials are fetched.
public enum CredentialChain {
    /// The provider the chain picks for `environment`.
    public static func provider(
        _ environment: AWSEnvironment, httpClient: HTTPClient = S3Client.sharedHTTPClient,
        logger: Logger = Logger(label: "swamp.s3", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> any CredentialProvider {
        let http = CredentialHTTP(client: httpClient)
        let sts = STS(environment: environment, http: http)
        var tried: [String] = []

        if let id = environment.value("AWS_ACCESS_KEY_ID") {
            guard let secret = environment.value("AWS_SECRET_ACCESS_KEY") else {
                throw CredentialError(
                    source: "environment", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
                    remedy: "set both, or unset AWS_ACCESS_KEY_ID to use a profile")
            }
            let token = environment.value("AWS_SESSION_TOKEN") ?? environment.value("AWS_SECURITY_TOKEN")
            return StaticCredentials(S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token, source: "environment"))
        }
        if environment.value("AWS_SECRET_ACCESS_KEY") != nil {
            throw CredentialError(
                source: "environment", message: "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not", remedy: "set both, or neither")
        }
        tried.append("environment (AWS_ACCESS_KEY_ID not set)")

        let name = environment.profileName
        let settings = environment.profile(name)
        if settings == nil, environment.profileNamed {
            throw CredentialError(
                source: "profile \(name)",
                message: "the profile '\(name)' is in neither \(environment.configFile) nor \(environment.credentialsFile)"
                    + (environment.profileNames.isEmpty ? "" : " (profiles: \(environment.profileNames.joined(separator: ", ")))"),
                remedy: "fix AWS_PROFILE, or run 'aws configure --profile \(name)'", missing: true)
        }
        let settingsOrEmpty = settings ?? [:]

        if isRoleProfile(settingsOrEmpty) {
            return try assumeRole(profile: name, environment: environment, sts: sts, http: http, logger: logger, visited: [])
        }
        if let source = try profileSources(name, environment: environment, sts: sts, http: http, environmentWebIdentity: true) {
            return source
        }
        tried.append("web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)")
        tried.append(
            settings == nil
                ? "profile \(name) (not in \(environment.credentialsFile) or \(environment.configFile))"
                : "profile \(name) (no keys, role, SSO or credential_process)")

        if let container = try ContainerCredentials.from(environment, http: http) { return container }
        tried.append("container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI not set)")

        if environment.flag("AWS_EC2_METADATA_DISABLED") {
            tried.append("EC2 instance metadata (AWS_EC2_METADATA_DISABLED=true)")
            throw CredentialError(
                source: "the AWS credential chain", message: "no credentials found; tried " + tried.joined(separator: ", "), remedy: remedy,
                missing: true)
        }
        return LastResort(imds: InstanceMetadataCredentials(endpoint: InstanceMetadataCredentials.endpoint(environment), http: http), tried: tried)
    }

    static let remedy =
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, set AWS_PROFILE to a profile of ~/.aws/config, or run 'aws configure'"

    /// Instance metadata as the chain's last resort: when nothing answers, the error lists
    /// everything that was tried.
    struct LastResort: CredentialProvider {
        let imds: InstanceMetadataCredentials
        let tried: [String]
        var source: String { imds.source }

        func fetch() async throws -> S3Credentials {
            do {
                return try await imds.fetch()
            } catch let error as CredentialError where error.transient {
                throw CredentialError(
                    source: "the AWS credential chain",
                    message: "no credentials found; tried " + (tried + ["EC2 instance metadata (\(error.message))"]).joined(separator: ", "),
                    remedy: remedy, missing: true)
            }
        }
    }

    /// `swamp-{unix time}`, like the CLI's `botocore-session-{unix time}`.
    static func defaultSessionName() -> String { "swamp-\(Int(Date().timeIntervalSince1970))" }

    static func duration(_ settings: [String: String], profile: String) throws -> Int? {
        guard let text = settings["duration_seconds"] else { return nil }
        guard let seconds = Int(text), seconds >= 900, seconds <= 43200 else {
            throw CredentialError(source: "profile \(profile)", message: "duration_seconds '\(text)' is not a number of seconds from 900 to 43200")
        }
        return seconds
    }

    /// A profile that assumes a role from another source (not a web identity profile).
    static func isRoleProfile(_ settings: [String: String]) -> Bool {
        settings["role_arn"] != nil && settings["web_identity_token_file"] == nil
    }

    /// What a profile supplies by itself, in the CLI's order after `role_arn`: web identity (from
    /// the environment too at the top of the chain, never for a source profile), SSO, keys in
    /// the credentials file, `credential_process`, keys in the config file.
    static func profileSources(
        _ name: String, environment: AWSEnvironment, sts: STS, http: CredentialHTTP, environmentWebIdentity: Bool
    ) throws -> (any CredentialProvider)? {
        let settings = environment.profile(name) ?? [:]
        let fromEnvironment = environmentWebIdentity ? environment.value("AWS_WEB_IDENTITY_TOKEN_FILE") : nil
        if let file = fromEnvironment ?? settings["web_identity_token_file"] {
            let origin = fromEnvironment != nil ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "profile \(name)"
            let arn = (environmentWebIdentity ? environment.value("AWS_ROLE_ARN") : nil) ?? settings["role_arn"]
            guard let arn else {
                throw CredentialError(
                    source: "web identity (\(origin))", message: "a web identity token file is set but no role is",
                    remedy: fromEnvironment != nil ? "set AWS_ROLE_ARN" : "set role_arn in the profile")
            }
            let session =
                (environmentWebIdentity ? environment.value("AWS_ROLE_SESSION_NAME") : nil) ?? settings["role_session_name"] ?? defaultSessionName()
            return WebIdentityCredentials(
                tokenFile: file, role: STS.Role(arn: arn, sessionName: session, durationSeconds: try duration(settings, profile: name)), sts: sts,
                origin: origin)
        }
        guard environment.profile(name) != nil else { return nil }
        if let sso = try SSOCredentials.from(settings, profile: name, environment: environment, http: http) { return sso }
        if let keys = try staticKeys(profile: name, in: environment.credentialsProfiles, file: environment.credentialsFile) { return keys }
        if let command = settings["credential_process"], !command.isEmpty {
            return ProcessCredentials(command: command, profile: name, timeout: .seconds(60))
        }
        return try staticKeys(profile: name, in: environment.configProfiles, file: environment.configFile)
    }

    /// The keys a profile has in `file`, if it has both.
    static func staticKeys(profile: String, in profiles: [String: [String: String]], file: String) throws -> (any CredentialProvider)? {
        let section = profiles[profile]
        guard let section, let id = section["aws_access_key_id"] else { return nil }
        guard let secret = section["aws_secret_access_key"], !secret.isEmpty else {
            throw CredentialError(
                source: "profile \(profile)", message: "the profile has aws_access_key_id but no aws_secret_access_key in \(file)",
                remedy: "run 'aws configure --profile \(profile)'")
        }
        return StaticCredentials(
            S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: section["aws_session_token"], source: "profile \(profile)"))
    }

    /// An `AssumeRole` profile, with its source resolved (another profile, possibly a role
    /// itself, or `credential_source`); a cycle of source profiles is an error.
    static func assumeRole(
        profile name: String, environment: AWSEnvironment, sts: STS, http: CredentialHTTP, logger: Logger, visited: [String]
    ) throws -> any CredentialProvider {
        guard let settings = environment.profile(name), let arn = settings["role_arn"] else {
            throw CredentialError(source: "profile \(name)", message: "the profile does not exist or has no role_arn")
        }
        if settings["mfa_serial"] != nil {
            throw CredentialError(
                source: "profile \(name)", message: "the role needs an MFA code (mfa_serial), and swamp does not prompt for one",
                remedy: "use a profile whose role needs no MFA, or export temporary credentials (e.g. from 'aws configure export-credentials')")
        }
        let base: any CredentialProvider
        if let sourceProfile = settings["source_profile"] {
            if settings["credential_source"] != nil {
                throw CredentialError(source: "profile \(name)", message: "the profile sets both source_profile and credential_source; keep one")
            }
            guard let source = environment.profile(sourceProfile) else {
                throw CredentialError(
                    source: "profile \(name)",
                    message: "its source_profile '\(sourceProfile)' is in neither \(environment.configFile) nor \(environment.credentialsFile)",
                    remedy: "fix source_profile (profiles: \(environment.profileNames.joined(separator: ", ")))")
            }
            // As botocore: a source with keys of its own, or that is not a role profile, supplies
            // credentials by itself (keys, web identity, SSO, process); a role profile is assumed in
            // turn. A profile may name itself only to use its own keys.
            let hasKeys = source["aws_access_key_id"] != nil
            if hasKeys || !isRoleProfile(source) {
                guard let provider = try profileSources(sourceProfile, environment: environment, sts: sts, http: http, environmentWebIdentity: false)
                else {
                    throw CredentialError(
                        source: "profile \(name)",
                        message: "its source_profile '\(sourceProfile)' has no keys, web identity, SSO or credential_process")
                }
                base = provider
            } else {
                if sourceProfile == name || visited.contains(sourceProfile) {
                    throw CredentialError(
                        source: "profile \(visited.first ?? name)",
                        message: "source profiles form a cycle: \((visited + [name, sourceProfile]).joined(separator: " → "))",
                        remedy: "end the chain at a profile with keys, SSO, web identity or credential_process")
                }
                base = try assumeRole(
                    profile: sourceProfile, environment: environment, sts: sts, http: http, logger: logger, visited: visited + [name])
            }
        } else if let kind = settings["credential_source"] {
            switch kind {
            case "Environment":
                guard let id = environment.value("AWS_ACCESS_KEY_ID"), let secret = environment.value("AWS_SECRET_ACCESS_KEY") else {
                    throw CredentialError(
                        source: "profile \(name)", message: "credential_source = Environment, but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set"
                    )
                }
                base = StaticCredentials(
                    S3Credentials(
                        accessKeyId: id, secretAccessKey: secret, sessionToken: environment.value("AWS_SESSION_TOKEN"), source: "environment"))
            case "Ec2InstanceMetadata":
                if environment.flag("AWS_EC2_METADATA_DISABLED") {
                    throw CredentialError(
                        source: "profile \(name)", message: "credential_source = Ec2InstanceMetadata, but AWS_EC2_METADATA_DISABLED is true")
                }
                base = InstanceMetadataCredentials(endpoint: InstanceMetadataCredentials.endpoint(environment), http: http)
            case "EcsContainer":
                guard let container = try ContainerCredentials.from(environment, http: http) else {
                    throw CredentialError(
                        source: "profile \(name)", message: "credential_source = EcsContainer, but no container credentials URI is set")
                }
                base = container
            default:
                throw CredentialError(
                    source: "profile \(name)", message: "credential_source '\(kind)' is not one of Environment, Ec2InstanceMetadata, EcsContainer")
            }
        } else {
            throw CredentialError(
                source: "profile \(name)", message: "role_arn needs source_profile or credential_source", remedy: "add one to the profile")
        }
        guard arn.hasPrefix("arn:"), arn.split(separator: ":", omittingEmptySubsequences: false).count >= 6 else {
            throw CredentialError(
                source: "profile \(name)", message: "role_arn '\(arn)' is not an ARN", remedy: "use arn:aws:iam::ACCOUNT:role/NAME")
        }
        let role = STS.Role(
            arn: arn, sessionName: settings["role_session_name"] ?? defaultSessionName(), externalId: settings["external_id"],
            durationSeconds: try duration(settings, profile: name))
        return AssumeRoleCredentials(
            profile: name, role: role, base: RefreshingCredentials(logger: logger) { base }, baseSource: base.source, sts: sts)
    }
}
