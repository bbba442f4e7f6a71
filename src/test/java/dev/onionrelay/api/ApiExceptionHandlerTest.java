package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.RelayException;
import org.junit.jupiter.api.Test;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;

/** Which failures are worth retrying (503) and which are defects (500) is decided by kind, not by exception class. */
class ApiExceptionHandlerTest {

    private final ApiExceptionHandler handler = new ApiExceptionHandler();

    @Test
    void anUnexpectedIllegalStateIsAnInternalErrorThatNamesNoInternals() {
        ResponseEntity<ProblemDetail> answer =
                handler.unexpected(new IllegalStateException("pool 'x' of class Y is broken at z"));
        assertThat(answer.getStatusCode().value()).isEqualTo(500);
        assertThat(answer.getBody().getType().toString()).isEqualTo("urn:onion-relay:problem:internal-error");
        assertThat(answer.getBody().getDetail()).doesNotContain("pool", "class Y");
    }

    @Test
    void anEngineThatDidNotAnswerInTimeIsTemporarilyUnavailable() {
        ResponseEntity<ProblemDetail> answer = handler.relay(new RelayException(
                RelayException.Kind.UNAVAILABLE, null, "the tunnel's event loop did not answer in time"));
        assertThat(answer.getStatusCode().value()).isEqualTo(503);
        assertThat(answer.getBody().getType().toString()).isEqualTo("urn:onion-relay:problem:temporarily-unavailable");
        assertThat(answer.getBody().getDetail()).isEqualTo("the tunnel's event loop did not answer in time");
    }
}
