-- The nginx signing peer of bench/gateway.ts: what the original plugin's own stack (nginx and
-- LuaJIT, signing through OpenSSL, the key parsed once) costs for the same token as the
-- reference proxy sends (header with `x5c`, claims with `aud`): the body is read into memory
-- and hashed, the token signed in the worker and set as the `jwt` header before proxy_pass.
-- OpenSSL through LuaJIT's FFI, as lua-resty-openssl does, with nothing between: one
-- EVP_DigestSignInit and EVP_DigestSign per request on a context kept per worker.
local ffi = require('ffi')
local bit = require('bit')
local b64 = require('ngx.base64')

ffi.cdef([[
typedef struct bio_st BIO;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct ecdsa_sig_st ECDSA_SIG;
typedef struct bignum_st BIGNUM;
BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, void *cb, void *u);
EVP_MD_CTX *EVP_MD_CTX_new(void);
int EVP_MD_CTX_reset(EVP_MD_CTX *ctx);
const EVP_MD *EVP_sha256(void);
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
               const EVP_MD *type, void *impl);
int EVP_DigestSignInit(EVP_MD_CTX *ctx, void **pctx, const EVP_MD *type, void *e,
                       EVP_PKEY *pkey);
int EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sigret, size_t *siglen,
                   const unsigned char *tbs, size_t tbslen);
int RAND_bytes(unsigned char *buf, int num);
ECDSA_SIG *d2i_ECDSA_SIG(ECDSA_SIG **sig, const unsigned char **pp, long len);
void ECDSA_SIG_get0(const ECDSA_SIG *sig, const BIGNUM **pr, const BIGNUM **ps);
int BN_bn2binpad(const BIGNUM *a, unsigned char *to, int tolen);
void ECDSA_SIG_free(ECDSA_SIG *sig);
]])
-- nginx is linked with libcrypto: its symbols are in the process already (no dev symlink needed).
local C = ffi.C
if not pcall(function() return C.EVP_sha256 end) then C = ffi.load('libcrypto.so.3') end

local M = {}
local key, md, alg, header
local ctx = C.EVP_MD_CTX_new()
local digest = ffi.new('unsigned char[32]')
local sig = ffi.new('unsigned char[1024]')
local siglen = ffi.new('size_t[1]')
local p1363 = ffi.new('unsigned char[64]')
local der = ffi.new('const unsigned char *[1]')
local r, s = ffi.new('const BIGNUM *[1]'), ffi.new('const BIGNUM *[1]')
local random = ffi.new('unsigned char[16]')
local hex = ffi.new('char[64]')
local uuid = ffi.new('char[36]')
local DIGITS = ffi.new('const char[17]', '0123456789abcdef')

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local data = f:read('*a')
  f:close()
  return data
end

--- Parses the key once (in nginx's master, before the workers fork) and makes the JWT header.
function M.init(key_path, cert_der_path, algorithm)
  -- RS256, ES256 and EdDSA only: SHA-256 (or none) and ES256's r || s are all this signs.
  assert(algorithm == 'RS256' or algorithm == 'ES256' or algorithm == 'EdDSA', algorithm)
  local pem = read(key_path)
  local bio = C.BIO_new_mem_buf(pem, #pem)
  key = C.PEM_read_bio_PrivateKey(bio, nil, nil, nil)
  C.BIO_free(bio)
  assert(key ~= nil, 'cannot parse ' .. key_path)
  alg = algorithm
  md = alg ~= 'EdDSA' and C.EVP_sha256() or nil
  header = b64.encode_base64url(
    '{"typ":"JWT","alg":"' .. alg .. '","x5c":["' .. ngx.encode_base64(read(cert_der_path)) .. '"]}'
  )
end

local function tohex(bytes, n, out)
  for i = 0, n - 1 do
    local b = bytes[i]
    out[2 * i] = DIGITS[bit.rshift(b, 4)]
    out[2 * i + 1] = DIGITS[bit.band(b, 15)]
  end
end

local function new_uuid()
  if C.RAND_bytes(random, 16) ~= 1 then return nil end
  random[6] = bit.bor(bit.band(random[6], 0x0f), 0x40)
  random[8] = bit.bor(bit.band(random[8], 0x3f), 0x80)
  tohex(random, 16, hex)
  local o = 0
  for i = 0, 31 do
    if i == 8 or i == 12 or i == 16 or i == 20 then
      uuid[o] = 45
      o = o + 1
    end
    uuid[o] = hex[i]
    o = o + 1
  end
  return ffi.string(uuid, 36)
end

local function signature(input)
  C.EVP_MD_CTX_reset(ctx)
  if C.EVP_DigestSignInit(ctx, nil, md, nil, key) ~= 1 then return nil end
  siglen[0] = 1024
  if C.EVP_DigestSign(ctx, sig, siglen, input, #input) ~= 1 then return nil end
  if alg ~= 'ES256' then return ffi.string(sig, siglen[0]) end
  -- JWS ES256 is r || s, 32 bytes each (RFC 7518 §3.4), not OpenSSL's DER.
  der[0] = sig
  local parsed = C.d2i_ECDSA_SIG(nil, der, siglen[0])
  if parsed == nil then return nil end
  C.ECDSA_SIG_get0(parsed, r, s)
  C.BN_bn2binpad(r[0], p1363, 32)
  C.BN_bn2binpad(s[0], p1363 + 32, 32)
  C.ECDSA_SIG_free(parsed)
  return ffi.string(p1363, 64)
end

--- access_by_lua: hashes the body, signs the token, sets it; fails closed with 500.
function M.access()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  local payloadhash = ''
  if body and #body > 0 then
    if C.EVP_Digest(body, #body, digest, nil, C.EVP_sha256(), nil) ~= 1 then return ngx.exit(500) end
    tohex(digest, 32, hex)
    payloadhash = ffi.string(hex, 64)
  elseif ngx.req.get_body_file() then
    -- The bench's bodies fit in client_body_buffer_size: a spooled one is not signed.
    return ngx.exit(500)
  end
  local jti = new_uuid()
  if not jti then return ngx.exit(500) end
  local now = ngx.time()
  local claims = '{"aud":"upstream","iat":' .. now .. ',"exp":' .. (now + 60) .. ',"jti":"'
    .. jti .. '","payloadhash":"' .. payloadhash .. '"}'
  local input = header .. '.' .. b64.encode_base64url(claims)
  local signed = signature(input)
  if not signed then return ngx.exit(500) end
  ngx.req.set_header('jwt', input .. '.' .. b64.encode_base64url(signed))
end

return M
