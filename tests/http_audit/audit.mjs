// Runs graphql-http's GraphQL over HTTP audits against a live server and prints the results as JSON.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const summary = results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null }));
process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
