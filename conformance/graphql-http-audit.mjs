// Runs the graphql-http server audits (the GraphQL over HTTP spec's MUST and
// SHOULD requirements) against a live gateway and fails on any failure or
// warning. Usage: node graphql-http-audit.mjs http://127.0.0.1:8080/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-http-audit.mjs <url>');
  process.exit(2);
}
let failed = 0;
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  const line = `${result.status.toUpperCase().padEnd(7)} ${audit.id} ${audit.name}`;
  if (result.status === 'ok') {
    console.log(line);
    continue;
  }
  failed++;
  console.log(`${line}\n        ${result.reason}`);
  if (result.response) {
    console.log(`        status ${result.response.status}, content-type ${result.response.headers.get('content-type')}`);
  }
}
console.log(failed === 0 ? 'graphql-http audit: every MUST and SHOULD passes' : `graphql-http audit: ${failed} not passing`);
process.exit(failed === 0 ? 0 : 1);
