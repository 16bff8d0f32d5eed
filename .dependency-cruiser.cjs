/**
 * The layer rule (issue 9): the protocol-neutral core — the pipeline, the connection state
 * machine and the policies — knows nothing of any adapter. `npm test` runs this check first
 * (`npm run lint:layers`).
 *
 *   src/shared, src/errors.ts, src/wire.ts         (leaves)
 *   src/observability                               (OpenTelemetry: over shared and errors only)
 *   src/policy → src/connection → src/pipeline     (the core: imports only downward)
 *   src/client + src/transport (JSON-RPC), src/axios, src/grpc   (adapters, over the core)
 *   src/node, src/cli                               (the reference node and the command line)
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-adapter',
      comment:
        'src/pipeline, src/connection and src/policy are protocol-neutral: they must not import the JSON-RPC client or transport, an adapter, the node or the CLI.',
      severity: 'error',
      from: { path: '^src/(pipeline|connection|policy)/' },
      to: { path: '^src/(client|transport|axios|grpc|node|cli)/' },
    },
    {
      name: 'policy-below-connection',
      comment: 'src/policy is the lowest core layer: it must not import the connection state machine or the pipeline.',
      severity: 'error',
      from: { path: '^src/policy/' },
      to: { path: '^src/(connection|pipeline)/' },
    },
    {
      name: 'connection-below-pipeline',
      comment: 'src/connection sits under the pipeline: it must not import it.',
      severity: 'error',
      from: { path: '^src/connection/' },
      to: { path: '^src/pipeline/' },
    },
    {
      name: 'grpc-adapter-uses-public-core',
      comment:
        'src/grpc (hotcold/grpc) knows no pipeline internals: it uses createPolicy and the contract types through src/index.ts, the internal createSelfTimedPolicy through the pipeline\'s entry (src/pipeline/index.ts), plus errors and shared helpers.',
      severity: 'error',
      from: { path: '^src/grpc/' },
      to: { path: '^src/((pipeline/(?!index[.]ts$))|connection/|policy/|client/|transport/|axios/|node/|testing/|lease/|cli/)' },
    },
    {
      name: 'shared-is-a-leaf',
      comment: 'src/shared is used by every layer and imports none of them.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/(policy|connection|pipeline|client|transport|axios|grpc|node|cli|lease|observability|testing)/' },
    },
    {
      name: 'observability-over-shared-only',
      comment:
        'src/observability (metrics, spans, trace propagation) is used by the pipeline, the adapters and the node; it imports only src/shared, src/errors.ts and @opentelemetry/api, so any layer may call its hooks.',
      severity: 'error',
      from: { path: '^src/observability/' },
      to: { path: '^src/(?!shared/|errors[.]ts$|observability/)' },
    },
    {
      name: 'axios-adapter-uses-only-the-public-pipeline',
      comment:
        'src/axios (hotcold/axios) knows the pipeline only by its entry (createPolicy, the internal createAdapterPolicy and the contract types in src/pipeline/index.ts), and no other adapter.',
      severity: 'error',
      from: { path: '^src/axios/' },
      to: { path: '^src/(pipeline/(?!index[.]ts$)|client/|transport/|grpc/|node/|cli/|testing/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|dist)' },
  },
};
