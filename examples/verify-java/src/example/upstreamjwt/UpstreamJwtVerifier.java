package example.upstreamjwt;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertPathValidatorException.BasicReason;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Verifies the tokens kong-upstream-jwt (and the Kong Upstream JWT plugin) sign, with the JDK's
 * java.security and CertPathValidator (PKIX) and Jackson. The checks run in the order of the
 * project README's "Verify in any language"; each refusal is a {@link VerificationException}
 * whose code is the one the TypeScript verifier uses.
 *
 * <pre>{@code
 * var verifier = new UpstreamJwtVerifier(UpstreamJwtVerifier.readCertificates(caPem),
 *     List.of("orders"), "kong-gateway", 30, false, null);
 * JsonNode claims = verifier.verify(request.getHeader("JWT"), rawBody, "POST", url, Instant.now());
 * }</pre>
 */
public final class UpstreamJwtVerifier {
  /** Longest header value accepted, checked before any parsing. */
  public static final int MAX_TOKEN_LENGTH = 64 * 1024;

  private static final int MAX_CHAIN_LENGTH = 8;

  /** A refused token: {@code code} is stable (ERR_TOKEN_MALFORMED, ...), the message is for logs. */
  public static final class VerificationException extends Exception {
    private static final long serialVersionUID = 1L;
    public final String code;

    public VerificationException(String code, String reason) {
      super(code + ": " + reason);
      this.code = code;
    }
  }

  /** Remembers token ids: returns false when {@code jti} was seen before. */
  @FunctionalInterface
  public interface ReplayCheck {
    boolean fresh(String jti, Instant until) throws Exception;
  }

  // Jackson keeps the last of two equal member names by default; a verifier must refuse them
  // (RFC 7515 §5.2, RFC 8725 §3.12), or two parsers read different claims from one token.
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  // Asymmetric algorithms only: "none" and HS* are never accepted (a verifier that lets the
  // token choose HS256 can be fooled with the certificate's public key as the HMAC secret).
  private static final Map<String, String> ALGORITHMS =
      Map.of(
          "RS256", "SHA256withRSA",
          "RS384", "SHA384withRSA",
          "RS512", "SHA512withRSA",
          "PS256", "RSASSA-PSS",
          "PS384", "RSASSA-PSS",
          "PS512", "RSASSA-PSS",
          "ES256", "SHA256withECDSAinP1363Format",
          "ES384", "SHA384withECDSAinP1363Format",
          "ES512", "SHA512withECDSAinP1363Format",
          "EdDSA", "EdDSA");

  private static final Pattern B64URL = Pattern.compile("[A-Za-z0-9_-]*");
  private static final Pattern B64STD = Pattern.compile("[A-Za-z0-9+/]*={0,2}");
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern BEARER = Pattern.compile("^(?i:bearer)\\s+");
  private static final Pattern ABSOLUTE = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)");
  private static final String EMPTY_SHA256 =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  private final Set<TrustAnchor> anchors = new HashSet<>();
  private final List<String> audience;
  private final String issuer;
  private final long toleranceSeconds;
  private final boolean legacyX5c;
  private final ReplayCheck replay;

  /**
   * @param anchors trust anchors (the CA bundle); the token's x5c must chain to one
   * @param audience accepted audiences; null accepts any
   * @param issuer required iss; null accepts any
   * @param clockToleranceSeconds leeway for exp, nbf and iat
   * @param legacyX5c accept the original Lua plugin's base64url x5c besides standard base64
   * @param replay checked last with the token's jti; null turns replay protection off
   */
  public UpstreamJwtVerifier(
      Collection<X509Certificate> anchors,
      List<String> audience,
      String issuer,
      long clockToleranceSeconds,
      boolean legacyX5c,
      ReplayCheck replay) {
    for (X509Certificate anchor : anchors) this.anchors.add(new TrustAnchor(anchor, null));
    if (this.anchors.isEmpty()) throw new IllegalArgumentException("no trust anchor");
    this.audience = audience;
    this.issuer = issuer;
    this.toleranceSeconds = clockToleranceSeconds;
    this.legacyX5c = legacyX5c;
    this.replay = replay;
  }

  /** Reads every certificate of a PEM bundle. */
  public static List<X509Certificate> readCertificates(byte[] pem) throws GeneralSecurityException {
    List<X509Certificate> out = new ArrayList<>();
    for (var c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
      out.add((X509Certificate) c);
    }
    return out;
  }

  private static VerificationException malformed(String reason) {
    return new VerificationException("ERR_TOKEN_MALFORMED", reason);
  }

  /**
   * Verifies the token header's value for a request. {@code body} is the raw bytes received,
   * before any parsing; {@code method} and {@code url} (absolute, as received) are needed when
   * the token is bound to the request.
   */
  public JsonNode verify(String headerValue, byte[] body, String method, String url, Instant now)
      throws VerificationException {
    if (headerValue == null || headerValue.isEmpty()) {
      throw new VerificationException("ERR_TOKEN_MISSING", "no token in the request");
    }
    // 1. Size, before parsing anything.
    if (headerValue.length() > MAX_TOKEN_LENGTH) {
      throw malformed("token is longer than " + MAX_TOKEN_LENGTH + " characters");
    }
    // 2. Structure.
    String token = BEARER.matcher(headerValue.trim()).replaceFirst("");
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3) {
      throw malformed("token has " + parts.length + " parts; a compact JWS has 3");
    }
    JsonNode header = decodeObject(decodePart(parts[0], "header"), "header");
    JsonNode claims = decodeObject(decodePart(parts[1], "payload"), "payload");
    byte[] signature = decodePart(parts[2], "signature");
    // 3. Header: no extension we do not understand (RFC 7515 §4.1.11).
    if (header.has("crit")) {
      throw malformed("token has a \"crit\" header this verifier does not understand");
    }
    // 4. Algorithm from the allow-list.
    JsonNode algNode = header.get("alg");
    String alg = algNode != null && algNode.isTextual() ? algNode.asText() : null;
    if (alg == null || !ALGORITHMS.containsKey(alg)) {
      throw new VerificationException("ERR_ALG_NOT_ALLOWED", "algorithm is not allowed");
    }
    // 5. Chain to a trust anchor, at `now`. The key comes from x5c only: jku and x5u are never fetched.
    List<X509Certificate> chain = decodeX5c(header.get("x5c"));
    checkChain(chain, now);
    X509Certificate leaf = chain.get(0);
    // 6. Key usage: PKIX checks issuers, not whether the leaf may sign (RFC 5280 §4.2.1.3).
    boolean[] usage = leaf.getKeyUsage();
    if (usage != null && !usage[0]) {
      throw new VerificationException(
          "ERR_CERT_UNTRUSTED", "the leaf certificate may not sign (keyUsage lacks digitalSignature)");
    }
    // 7. Signature, with a key that fits the algorithm.
    PublicKey key = leaf.getPublicKey();
    if (!keyFits(key, alg)) {
      throw new VerificationException("ERR_ALG_NOT_ALLOWED", "the certificate's key does not fit " + alg);
    }
    byte[] input = (parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII);
    if (!signatureVerifies(alg, key, input, signature)) {
      throw new VerificationException("ERR_SIGNATURE_INVALID", "signature does not verify with the trusted key");
    }
    // 8. Claims. 9. Body hash. 10. Request binding.
    checkClaims(claims, now);
    checkBody(claims, body == null ? new byte[0] : body);
    checkBinding(claims, method, url);
    // 11. Replay.
    if (replay != null) {
      boolean fresh;
      try {
        fresh = replay.fresh(claims.get("jti").asText(),
            Instant.ofEpochSecond(claims.get("exp").asLong() + toleranceSeconds));
      } catch (Exception e) {
        throw new VerificationException("ERR_REPLAY_STORE_UNAVAILABLE", "replay store failed: " + e.getMessage());
      }
      if (!fresh) throw new VerificationException("ERR_TOKEN_REPLAYED", "token was already used (jti seen before)");
    }
    return claims;
  }

  /** Canonical base64url only: no padding, no other characters, unused bits zero. */
  private static byte[] decodePart(String part, String what) throws VerificationException {
    if (!B64URL.matcher(part).matches() || part.length() % 4 == 1) {
      throw malformed("token " + what + " is not base64url");
    }
    byte[] bytes = Base64.getUrlDecoder().decode(part);
    if (!Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).equals(part)) {
      throw malformed("token " + what + " is not canonical base64url");
    }
    return bytes;
  }

  private static JsonNode decodeObject(byte[] bytes, String what) throws VerificationException {
    JsonNode node;
    try {
      node = JSON.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw malformed("token " + what + " is not JSON without duplicate members: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw malformed("token " + what + " is not JSON");
    }
    if (node == null || !node.isObject()) throw malformed("token " + what + " is not a JSON object");
    return node;
  }

  private List<X509Certificate> decodeX5c(JsonNode x5c) throws VerificationException {
    if (x5c == null) {
      throw new VerificationException(
          "ERR_CERT_UNTRUSTED", "token has no x5c; no trusted key (jku and x5u are never fetched)");
    }
    if (!x5c.isArray() || x5c.isEmpty()) throw malformed("x5c header must be a non-empty array");
    if (x5c.size() > MAX_CHAIN_LENGTH) {
      throw new VerificationException("ERR_CERT_UNTRUSTED", "x5c has more than " + MAX_CHAIN_LENGTH + " certificates");
    }
    List<X509Certificate> certs = new ArrayList<>();
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      for (int i = 0; i < x5c.size(); i++) {
        JsonNode entry = x5c.get(i);
        if (!entry.isTextual()) throw malformed("x5c[" + i + "] is not a string");
        String s = entry.asText();
        byte[] der;
        if (B64STD.matcher(s).matches()) der = Base64.getDecoder().decode(s);
        else if (legacyX5c && B64URL.matcher(s).matches()) der = Base64.getUrlDecoder().decode(s);
        else throw malformed("x5c[" + i + "] is not standard base64 (RFC 7515 §4.1.6)");
        certs.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw malformed("x5c is not a list of base64 DER certificates: " + e.getMessage());
    }
    return certs;
  }

  private void checkChain(List<X509Certificate> chain, Instant now) throws VerificationException {
    // PKIX wants the path without its anchor.
    List<X509Certificate> path = new ArrayList<>(chain);
    while (path.size() > 1 && isAnchor(path.get(path.size() - 1))) path.remove(path.size() - 1);
    try {
      PKIXParameters params = new PKIXParameters(anchors);
      params.setRevocationEnabled(false);
      params.setDate(Date.from(now));
      CertPathValidator.getInstance("PKIX")
          .validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
    } catch (CertPathValidatorException e) {
      boolean time = e.getReason() == BasicReason.EXPIRED || e.getReason() == BasicReason.NOT_YET_VALID;
      throw new VerificationException(time ? "ERR_CERT_EXPIRED" : "ERR_CERT_UNTRUSTED", "certificate chain: " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new VerificationException("ERR_CERT_UNTRUSTED", "certificate chain: " + e.getMessage());
    }
  }

  private boolean isAnchor(X509Certificate cert) {
    for (TrustAnchor a : anchors) if (cert.equals(a.getTrustedCert())) return true;
    return false;
  }

  private static boolean keyFits(PublicKey key, String alg) {
    if (alg.startsWith("RS") || alg.startsWith("PS")) {
      return key instanceof RSAPublicKey rsa && rsa.getModulus().bitLength() >= 2048;
    }
    if (alg.startsWith("ES")) {
      int bits = alg.equals("ES256") ? 256 : alg.equals("ES384") ? 384 : 521;
      return key instanceof ECPublicKey ec && ec.getParams().getCurve().getField().getFieldSize() == bits;
    }
    return key instanceof EdECPublicKey;
  }

  private static boolean signatureVerifies(String alg, PublicKey key, byte[] input, byte[] signature) {
    try {
      Signature verifier = Signature.getInstance(ALGORITHMS.get(alg));
      if (alg.startsWith("PS")) {
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        String hash = "SHA-" + alg.substring(2);
        int size = Integer.parseInt(alg.substring(2)) / 8;
        verifier.setParameter(new PSSParameterSpec(hash, "MGF1", new MGF1ParameterSpec(hash), size, 1));
      }
      verifier.initVerify(key);
      verifier.update(input);
      // ES*: "inP1363Format" is JWS's r || s (RFC 7518 §3.4); a DER signature does not verify.
      return verifier.verify(signature);
    } catch (SignatureException e) {
      return false;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot verify " + alg, e);
    }
  }

  private static VerificationException claim(String reason) {
    return new VerificationException("ERR_CLAIM_INVALID", reason);
  }

  private static Double numericDate(JsonNode claims, String name) throws VerificationException {
    JsonNode v = claims.get(name);
    if (v == null) return null;
    if (!v.isNumber()) throw claim("\"" + name + "\" claim must be a number (NumericDate)");
    return v.asDouble();
  }

  private void checkClaims(JsonNode claims, Instant now) throws VerificationException {
    for (String name : List.of("exp", "jti")) {
      if (!claims.has(name)) throw claim("\"" + name + "\" claim is missing");
    }
    JsonNode jti = claims.get("jti");
    if (!jti.isTextual() || jti.asText().isEmpty() || jti.asText().length() > 256) {
      throw claim("\"jti\" claim must be a non-empty string of at most 256 characters");
    }
    if (issuer != null) {
      JsonNode iss = claims.get("iss");
      if (iss == null || !iss.isTextual() || !iss.asText().equals(issuer)) {
        throw claim("\"iss\" claim is not the expected issuer");
      }
    }
    if (audience != null) {
      JsonNode aud = claims.get("aud");
      List<String> auds = new ArrayList<>();
      if (aud != null && aud.isTextual()) auds.add(aud.asText());
      else if (aud != null && aud.isArray()) {
        for (JsonNode a : aud) {
          if (!a.isTextual()) throw claim("\"aud\" claim is not a string or list of strings");
          auds.add(a.asText());
        }
      } else throw claim("\"aud\" claim is missing or not a string or list of strings");
      if (auds.stream().noneMatch(audience::contains)) throw claim("\"aud\" claim is not an expected audience");
    }
    double t = now.getEpochSecond() + now.getNano() / 1e9;
    double exp = numericDate(claims, "exp");
    if (exp <= t - toleranceSeconds) throw new VerificationException("ERR_TOKEN_EXPIRED", "token expired (\"exp\" claim)");
    Double nbf = numericDate(claims, "nbf");
    if (nbf != null && nbf > t + toleranceSeconds) {
      throw new VerificationException("ERR_TOKEN_NOT_YET_VALID", "token is not valid yet (\"nbf\" claim)");
    }
    Double iat = numericDate(claims, "iat");
    if (iat != null && iat > t + toleranceSeconds) throw claim("\"iat\" claim is in the future");
  }

  private static void checkBody(JsonNode claims, byte[] body) throws VerificationException {
    JsonNode node = claims.get("payloadhash");
    if (node == null) throw claim("\"payloadhash\" claim is missing");
    String hash = node.isTextual() ? node.asText() : null;
    if (hash == null || (!hash.isEmpty() && !HEX64.matcher(hash).matches())) {
      throw claim("\"payloadhash\" claim must be lowercase hex SHA-256 or \"\"");
    }
    if (body.length == 0) {
      // The original plugin sends "" for no body; other signers hash the empty input.
      if (hash.isEmpty() || hash.equals(EMPTY_SHA256)) return;
      throw new VerificationException("ERR_BODY_HASH_MISMATCH", "\"payloadhash\" claim is for a body, but the request has none");
    }
    if (hash.isEmpty()) {
      throw new VerificationException("ERR_BODY_HASH_MISMATCH", "\"payloadhash\" claim is \"\" (no body), but the request has a body");
    }
    if (!HexFormat.of().formatHex(sha256(body)).equals(hash)) {
      throw new VerificationException("ERR_BODY_HASH_MISMATCH", "\"payloadhash\" claim does not match the request body");
    }
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The htu value: scheme and host lower-cased, a default port dropped (RFC 3986 §6.2.2–6.2.3). */
  public static String requestUri(String scheme, String host, String path) {
    String s = scheme.toLowerCase(Locale.ROOT);
    String authority = host.toLowerCase(Locale.ROOT);
    int colon = authority.lastIndexOf(':');
    if (colon > authority.lastIndexOf(']')) {
      String port = authority.substring(colon + 1);
      if ((s.equals("http") && port.equals("80")) || (s.equals("https") && port.equals("443"))) {
        authority = authority.substring(0, colon);
      }
    }
    String p = path == null || path.isEmpty() ? "/" : path.split("[?#]", 2)[0];
    return s + "://" + authority + p;
  }

  private static void checkBinding(JsonNode claims, String method, String url) throws VerificationException {
    JsonNode htm = claims.get("htm");
    if (htm != null && (method == null || !htm.isTextual() || !htm.asText().equals(method.toUpperCase(Locale.ROOT)))) {
      throw new VerificationException("ERR_BINDING_MISMATCH", "\"htm\" claim does not match the request method");
    }
    JsonNode htu = claims.get("htu");
    JsonNode htq = claims.get("htq");
    if (htu == null && htq == null) return;
    // The raw authority, path and query as received: java.net.URI would normalise escapes.
    Matcher m = url == null ? null : ABSOLUTE.matcher(url);
    if (m == null || !m.find()) throw new VerificationException("ERR_BINDING_MISMATCH", "the request URL is not absolute");
    String rest = url.substring(m.end()).split("#", 2)[0];
    int q = rest.indexOf('?');
    String path = q == -1 ? rest : rest.substring(0, q);
    String query = q == -1 ? "" : rest.substring(q + 1);
    if (htu != null && !htu.asText().equals(requestUri(m.group(1), m.group(2), path))) {
      throw new VerificationException("ERR_BINDING_MISMATCH", "\"htu\" claim does not match the request URL");
    }
    String expected = Base64.getUrlEncoder().withoutPadding().encodeToString(sha256(query.getBytes(StandardCharsets.ISO_8859_1)));
    if (htq != null && !htq.asText().equals(expected)) {
      throw new VerificationException("ERR_BINDING_MISMATCH", "\"htq\" claim does not match the request query");
    }
  }
}
