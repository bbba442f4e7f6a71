package dev.onionrelay.api;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.coyote.ActionCode;
import org.springframework.http.MediaType;

/**
 * Answers what the servlet container refuses on its own (an encoded {@code /} or NUL in the path, an unknown method
 * such as {@code CONNECT}, {@code TRACE}, overlong request lines and headers), what a servlet answers with {@code
 * sendError}, and an error status left without a body (an endpoint's bare 404) as {@code application/problem+json}
 * instead of Tomcat's HTML page. Never shows the exception or the server version; of the request, only its path (as
 * {@code instance}, like every problem).
 */
public final class ProblemErrorReportValve extends ErrorReportValve {

    public ProblemErrorReportValve() {
        setShowReport(false);
        setShowServerInfo(false);
    }

    @Override
    protected void report(Request request, Response response, Throwable throwable) {
        int status = response.getStatus();
        if (status < 400 || response.getContentWritten() > 0) {
            return;
        }
        if (status == 501 && "CONNECT".equals(request.getMethod())) {
            // A method HTTP knows, refused here because this port is no proxy: not allowed rather than unknown.
            status = 405;
            response.setStatus(status);
            response.setHeader("Allow", "GET, HEAD, POST, DELETE, OPTIONS");
        }
        if (!response.isError()) {
            // An error status set without sendError and without a body: still an error the client should read.
            response.setError();
        }
        if (!response.setErrorReported()) {
            return;
        }
        AtomicBoolean ioAllowed = new AtomicBoolean(true);
        response.getCoyoteResponse().action(ActionCode.IS_IO_ALLOWED, ioAllowed);
        if (!ioAllowed.get()) {
            return;
        }
        try {
            response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
            response.setCharacterEncoding(StandardCharsets.UTF_8.name());
            Writer writer = response.getReporter();
            if (writer != null) {
                writer.write(Problem.of(status, detail(status)).json(request.getRequestURI()));
                response.finishResponse();
            }
        } catch (IOException | IllegalStateException e) {
            // The client is gone or the response was committed meanwhile: nothing more to tell it.
        }
    }

    private static String detail(int status) {
        return switch (status) {
            case 400 -> "the request is malformed (for example an encoded '/' or a NUL in the path, or a bad header)";
            case 404 -> "nothing is here";
            case 405 -> "this method is not allowed here";
            case 413 -> "the request body is too large";
            case 414 -> "the request line is too long";
            case 431 -> "the request headers are too large";
            case 500 -> "the request failed inside the service; see its log";
            case 501 -> "this method or transfer coding is not supported";
            case 505 -> "this HTTP version is not supported";
            default -> "the request could not be served";
        };
    }
}
