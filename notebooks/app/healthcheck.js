// Docker HEALTHCHECK probe for the sample app (the image has no curl): GET http://127.0.0.1:$PORT/healthz,
// exit 0 on 200, 1 on anything else (other status, refused connection, no answer within 1.5 s). It prints what it
// saw, which Docker keeps in the health log (`docker inspect`, and %deploy's error when the gate fails).
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT || 8080);
const url = `http://127.0.0.1:${port}/healthz`;
const request = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1500 }, (response) => {
  response.resume();
  console.log(`GET ${url}: HTTP ${response.statusCode}`);
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('no answer within 1.5 s')));
request.on('error', (error) => {
  console.log(`GET ${url}: ${error.message}`);
  process.exit(1);
});
