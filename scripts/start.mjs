// `npm start`: the gateway demo arrives with the gateway (issue 5). Until then, say so and
// show what runs today.
console.log(`kong-upstream-jwt: the standalone signing gateway (npm start) is not built yet.

What works today (after npm ci):
  npx tsx src/cli/main.ts keygen --out .state/keys
  echo '{"a":1}' | npx tsx src/cli/main.ts sign -k .state/keys/key.pem -c .state/keys/cert.cer --service orders
  npx tsx src/cli/main.ts inspect <token>
`)
