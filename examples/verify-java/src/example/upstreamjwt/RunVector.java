package example.upstreamjwt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * RunVector VECTOR.json [...]: checks kong-upstream-jwt conformance vectors with
 * {@link UpstreamJwtVerifier}. Prints "FILE: valid", "FILE: invalid CODE reason" or "FILE:
 * cannot-judge reason" per file; exits with the highest of 0 (valid), 1 (invalid), 2 (cannot judge).
 */
public final class RunVector {
  private RunVector() {}

  private static String judge(String file, int[] status) {
    UpstreamJwtVerifier verifier;
    JsonNode v;
    byte[] body;
    try {
      Path path = Path.of(file);
      v = new ObjectMapper().readTree(Files.readAllBytes(path));
      JsonNode policy = v.get("policy");
      Path ca = path.toAbsolutePath().getParent().resolve(policy.get("ca").asText());
      List<String> audience = null;
      JsonNode aud = policy.get("audience");
      if (aud.isTextual()) audience = List.of(aud.asText());
      else if (aud.isArray()) {
        audience = new ArrayList<>();
        for (JsonNode a : aud) audience.add(a.asText());
      }
      JsonNode iss = policy.get("issuer");
      verifier =
          new UpstreamJwtVerifier(
              UpstreamJwtVerifier.readCertificates(Files.readAllBytes(ca)),
              audience,
              iss.isNull() ? null : iss.asText(),
              policy.get("clock_tolerance").asLong(),
              policy.get("legacy_x5c").asBoolean(),
              null);
      body = Base64.getDecoder().decode(v.get("body_base64").asText());
    } catch (Exception e) {
      status[0] = 2;
      return "cannot-judge " + e;
    }
    JsonNode request = v.get("request");
    String method = request.isNull() ? null : request.get("method").asText();
    String url = request.isNull() ? null : request.get("url").asText();
    try {
      verifier.verify(v.get("token").asText(), body, method, url, Instant.ofEpochSecond(v.get("now").asLong()));
      status[0] = 0;
      return "valid";
    } catch (UpstreamJwtVerifier.VerificationException e) {
      status[0] = 1;
      return "invalid " + e.code + " " + e.getMessage().substring(e.code.length() + 2);
    } catch (RuntimeException e) {
      // A recipe bug must show, not pass as "invalid".
      status[0] = 2;
      return "cannot-judge " + e;
    }
  }

  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: run VECTOR.json [VECTOR.json ...]");
      System.exit(2);
    }
    int worst = 0;
    for (String file : args) {
      int[] status = {2};
      System.out.println(file + ": " + judge(file, status));
      worst = Math.max(worst, status[0]);
    }
    System.exit(worst);
  }
}
