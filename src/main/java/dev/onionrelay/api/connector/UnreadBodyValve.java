package dev.onionrelay.api.connector;

import jakarta.servlet.ServletException;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;
import org.apache.coyote.ActionCode;

/**
 * Closes the connection of a request that was refused before its body was read (no token, too large, unknown path,
 * a body that came too slowly). Tomcat would otherwise "swallow" the rest of the body to keep the connection alive:
 * a client announcing {@code Content-Length: 100000000} and sending nothing held its worker for the whole read
 * timeout (60 s measured), and 250 such connections, no token needed, held every worker of the API port. After the
 * refusal is written, the connection is closed instead ({@code Connection: close} when the answer is still
 * uncommitted). An engine valve: it sees every request of the port, also the ones Tomcat refuses before a servlet.
 */
public final class UnreadBodyValve extends ValveBase {

    public UnreadBodyValve() {
        super(true);
    }

    @Override
    public void invoke(Request request, Response response) throws IOException, ServletException {
        try {
            getNext().invoke(request, response);
        } finally {
            if (response.getStatus() >= 400 && !bodyFullyRead(request)) {
                if (!response.isCommitted()) {
                    response.setHeader("Connection", "close");
                }
                request.getCoyoteRequest().action(ActionCode.DISABLE_SWALLOW_INPUT, null);
            }
        }
    }

    private static boolean bodyFullyRead(Request request) {
        AtomicBoolean finished = new AtomicBoolean(true);
        request.getCoyoteRequest().action(ActionCode.REQUEST_BODY_FULLY_READ, finished);
        return finished.get();
    }
}
