#!/usr/bin/env bash
# The published .d.ts compile without @grpc/grpc-js installed (docs/grpc.md). Builds the
# declarations, installs them into a temporary consumer whose node_modules has every dependency
# of this checkout except @grpc/* (and what only they need), and compiles a file importing every
# entry with skipLibCheck: false. Exit 0 = they compile. Run: bash test/grpc/check-dts-without-grpc.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/node_modules/.bin/tsc" -p "$root/tsconfig.build.json" --emitDeclarationOnly --declaration --outDir "$work/pkg/dist"
cp "$root/package.json" "$work/pkg/"
mkdir -p "$work/consumer/node_modules/@types"
cp -r "$work/pkg" "$work/consumer/node_modules/hotcold"
for dep in "$root"/node_modules/*; do
  case "$(basename "$dep")" in @grpc|grpc-health-check|protobufjs|@types|.bin|hotcold) ;; *) ln -s "$dep" "$work/consumer/node_modules/" ;; esac
done
for dep in "$root"/node_modules/@types/*; do ln -s "$dep" "$work/consumer/node_modules/@types/"; done
cat > "$work/consumer/index.ts" <<'TS'
import { createPolicy, type Policy } from 'hotcold';
import { grpcInterceptor, grpcHealthProbe, rpcExceptionOf, GrpcStatus, type GrpcInterceptor } from 'hotcold/grpc';
import { startGrpcLedgerNode, ledgerGrpcService } from 'hotcold/testing';
import { createLease } from 'hotcold/lease';
const policy: Policy = createPolicy({});
const interceptor: GrpcInterceptor = grpcInterceptor(policy);
console.log(interceptor.policy === policy, grpcHealthProbe, rpcExceptionOf, GrpcStatus.UNAVAILABLE, startGrpcLedgerNode, ledgerGrpcService, createLease);
TS
cat > "$work/consumer/tsconfig.json" <<'JSON'
{"compilerOptions":{"target":"ES2022","module":"NodeNext","moduleResolution":"NodeNext","strict":true,"skipLibCheck":false,"noEmit":true,"types":["node"]},"files":["index.ts"]}
JSON
test ! -e "$work/consumer/node_modules/@grpc"
"$root/node_modules/.bin/tsc" -p "$work/consumer"
echo "the .d.ts compile without @grpc/grpc-js"
