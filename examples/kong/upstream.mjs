// The verifying upstream of examples/kong: answers with the token's claims, or refuses
// (401 and the reason) a request that did not come through Kong signed.
import { createServer } from 'node:http'
import { upstreamJwt, upstreamJwtOf } from 'kong-upstream-jwt/node'

const guard = upstreamJwt({
  pinned: [process.env.JWT_CERT ?? '/etc/kong/jwt/cert.pem'],
  issuer: 'kong',
  audience: 'orders',
})
const server = createServer(async (req, res) => {
  if (!(await guard(req, res))) return
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(upstreamJwtOf(req)?.claims))
})
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0', () => {
  const address = server.address()
  console.log(`upstream listening on ${typeof address === 'object' ? address?.port : address}`)
})
