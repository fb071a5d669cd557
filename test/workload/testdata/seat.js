// The AWS SDK for JavaScript v3 in an SDC pod's seat: its default credential chain (fromNodeProviderChain:
// environment, shared files, web identity, container credentials, IMDS) from the process environment alone,
// then the plan (argv[2], JSON) as the Go seat runs it; prints the outcome as one JSON object.
'use strict';

const crypto = require('node:crypto');
const { fromNodeProviderChain } = require('@aws-sdk/credential-providers');
const { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } = require('@aws-sdk/client-sts');
const {
  S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectCommand, DeleteBucketCommand,
} = require('@aws-sdk/client-s3');

const BODY = 'written by the workload\'s seat';

function code(err) {
  if (err.Code) return err.Code;
  return err.name && err.name !== 'Error' ? err.name : String(err.message || err);
}

async function main() {
  const plan = JSON.parse(process.argv[2]);
  const out = { identity: '', calls: [] };
  let credentials = fromNodeProviderChain();
  try {
    const id = await new STSClient({ credentials }).send(new GetCallerIdentityCommand({}));
    out.identity = id.Arn;
  } catch (err) {
    out.error = `GetCallerIdentity: ${code(err)}: ${err.message}`;
    return out;
  }
  if (plan.assumeRoleArn) {
    // SDC's "Assume Another Role": a UUID session name, 3600 s, the streamsets/principal session tag.
    try {
      const res = await new STSClient({ credentials }).send(new AssumeRoleCommand({
        RoleArn: plan.assumeRoleArn,
        RoleSessionName: crypto.randomUUID(),
        DurationSeconds: 3600,
        Tags: [{ Key: 'streamsets/principal', Value: plan.principal }],
      }));
      const c = res.Credentials;
      credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
      const id = await new STSClient({ credentials }).send(new GetCallerIdentityCommand({}));
      out.assumed = id.Arn;
    } catch (err) {
      out.error = `AssumeRole: ${code(err)}: ${err.message}`;
      return out;
    }
  }
  // Path-style: the sandbox's endpoint is an IP address (SDC's S3 stages have the same option).
  const s3 = new S3Client({ credentials, forcePathStyle: true });
  const b = plan.bucket;
  const k = plan.key;
  const steps = {
    PutObject: () => s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: BODY })),
    GetObject: async () => {
      const o = await s3.send(new GetObjectCommand({ Bucket: b, Key: k }));
      const got = await o.Body.transformToString();
      if (got !== BODY) throw new Error(`read ${JSON.stringify(got)} back`);
    },
    ListBucket: async () => {
      const o = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: k }));
      if ((o.Contents || []).length !== 1) throw new Error(`${(o.Contents || []).length} objects listed under ${k}`);
    },
    DeleteObject: () => s3.send(new DeleteObjectCommand({ Bucket: b, Key: k })),
    DeleteBucket: () => s3.send(new DeleteBucketCommand({ Bucket: b })),
  };
  for (const name of ['PutObject', 'GetObject', 'ListBucket', 'DeleteObject', 'DeleteBucket']) {
    let result = 'ok';
    try {
      await steps[name]();
    } catch (err) {
      result = code(err);
    }
    out.calls.push({ call: name, result });
  }
  return out;
}

main().then(
  (out) => process.stdout.write(`${JSON.stringify(out)}\n`),
  (err) => {
    process.stderr.write(`seat.js: ${err.stack || err}\n`);
    process.exit(1);
  },
);
