import ArgumentParser
import Foundation
import SwampContracts
import SwampCore

struct SetupS3: SwampCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3", abstract: "Share the datastore through an S3 bucket (or any S3-compatible server).",
        discussion: """
            Checks the bucket is reachable and writable, pushes the data the repository already has, fills \
            the local cache from the bucket, and only then writes .swamp.yaml: a failed setup leaves the \
            repository as it was, and running it again is safe. The repository's files are linked into the \
            cache where both are on one file system (copied otherwise): nothing is copied or stored twice. The \
            local datastore is left as it was, sharing those files: remove it once you no longer need it, and \
            edit neither in place (the next pull that applies such a file gives it back the remote's bytes).

            Config fields: bucket (required), prefix, region, endpoint, forcePathStyle, pullConcurrency, \
            pushConcurrency (requests in flight, default 32 each, at most 64), requestTimeoutMs (one request, its body included; default \
            30000), minThroughputBytesPerSecond (large transfers get size/this more; default 262144), \
            maxIndexBytes (the largest index read from the bucket; default 67108864), multipartThreshold (objects of this \
            size or more go in parts and come down in ranges; default 67108864), partSize (default 8388608, at least 5 MiB). \
            Without endpoint: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url, else AWS. Without region: \
            the one learnt from the bucket before, else AWS_REGION, AWS_DEFAULT_REGION or the profile's region (a wrong one is \
            corrected from S3's answer). 'swamp datastore status' shows the endpoint and region in use.

            Credentials come from the AWS CLI's chain, in its order: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; \
            the profile (AWS_PROFILE, else default) with role_arn + source_profile or credential_source; web \
            identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); the profile's SSO login, keys or credential_process; \
            container credentials; EC2 instance metadata (off with AWS_EC2_METADATA_DISABLED=true). \
            'swamp datastore status' shows which source is in use.

            Example: AWS_PROFILE=team swamp datastore setup s3 --config '{"bucket":"team-data","prefix":"infra","region":"eu-west-1"}'
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The S3 settings, as a JSON object.", valueName: "json"))
    var config: String

    @Option(
        help: ArgumentHelp("Where the local cache lives (default: $SWAMP_HOME/repos/<repoId>, SWAMP_HOME defaulting to ~/.swamp).", valueName: "path")
    )
    var cachePath: String?

    @Option(help: "full (default): pulls fetch everything; lazy: pulls fetch metadata, content on first read.")
    var hydrationStrategy: String = "full"

    func validate() throws {
        guard HydrationStrategy(rawValue: hydrationStrategy) != nil else {
            throw ValidationError("--hydration-strategy must be 'full' or 'lazy'")
        }
    }

    struct Document: Encodable {
        let bucket: String
        let cachePath: String
        let pushed: Int
        let pulled: Int
        let health: DatastoreHealth
        let hydrationStrategy: String
        let sync: SyncActivity?
    }

    func execute(_ output: Output) async throws {
        let current = try openWorkspace()
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(config.utf8))
        } catch {
            throw SwampError(.invalidConfig, "--config is not valid JSON", hint: #"e.g. --config '{"bucket":"team-data"}'"#)
        }
        let spec = DatastoreSpec(
            type: "s3", config: value, hydrationStrategy: HydrationStrategy(rawValue: hydrationStrategy) ?? .full, cachePath: cachePath)
        let json = global.json
        let result = try await DatastoreMigration(workspace: current).moveToRemote(
            spec, registry: Datastores.all, progress: { message in if !json { output.note(message) } }, transferProgress: ProgressPrinter.handler())
        try output.document(
            Document(
                bucket: result.bucket, cachePath: result.cachePath, pushed: result.pushed, pulled: result.pulled, health: result.health,
                hydrationStrategy: spec.hydrationStrategy.rawValue, sync: result.activity))
        output.line("Datastore is now s3://\(result.bucket) (cache \(result.cachePath)); pushed \(result.pushed) file(s), pulled \(result.pulled).")
    }
}
