// Preload (node --require) for processes that talk to a local endpoint: resolves
// localhost.localstack.cloud and every name under it (S3 virtual hosts such as
// <bucket>.s3.localhost.localstack.cloud) to 127.0.0.1 in this process, without DNS, /etc/hosts or root.
// The CDK CLI uploads assets to such names; publicly they resolve to 127.0.0.1 too, but the build
// machines have no DNS.
const dns = require('node:dns');

const LOCAL = /(^|\.)localhost\.localstack\.cloud$/i;
const lookup = dns.lookup;
dns.lookup = function lookupLocalstack(hostname, options, callback) {
  if (typeof hostname === 'string' && LOCAL.test(hostname)) {
    const done = typeof options === 'function' ? options : callback;
    const all = typeof options === 'object' && options !== null && options.all;
    if (all) process.nextTick(done, null, [{ address: '127.0.0.1', family: 4 }]);
    else process.nextTick(done, null, '127.0.0.1', 4);
    return;
  }
  return lookup.call(this, hostname, options, callback);
};
