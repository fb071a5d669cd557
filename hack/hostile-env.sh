# Sourced by .ci/run before `make test`: the environment a developer's shell may hold, every value wrong,
# so a test that depends on it (instead of setting or clearing what it needs) fails in CI. Keep the list in
# step with CONTRIBUTING.md's "Tests are hermetic" paragraph.
export AWS_REGION=ap-southeast-7
export AWS_DEFAULT_REGION=sa-east-1
export AWS_PROFILE=hostile-profile-that-does-not-exist
export AWS_ENDPOINT_URL=http://127.0.0.1:9
export AWS_CONFIG_FILE=/nonexistent/aws-config
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials
export AWS_ACCESS_KEY_ID=AKIAHOSTILEHOSTILE00
export AWS_SECRET_ACCESS_KEY=hostile-secret
export AWS_SESSION_TOKEN=hostile-token
export KUBECONFIG=/nonexistent/kubeconfig
export NO_COLOR=1
export KUBECTL_SDC_PERMISSIONS_BOUNDARY=arn:aws:iam::999999999999:policy/hostile-boundary
export KUBECTL_SDC_ROLE_PATH=/hostile/
export KUBECTL_SDC_TAGS=hostile=yes
