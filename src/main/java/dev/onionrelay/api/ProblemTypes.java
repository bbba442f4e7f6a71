package dev.onionrelay.api;

import java.net.URI;
import java.util.Locale;
import org.springframework.http.HttpStatus;

/**
 * The one problem {@code type} scheme of every error answer, whoever writes it (controllers, filters, the servlet
 * container): {@code urn:onion-relay:problem:<kind>}, the kind named after the title.
 */
public final class ProblemTypes {

    private static final String PREFIX = "urn:onion-relay:problem:";

    /**
     * The title of a change refused because the shared store (database) cannot be reached: 503 with
     * {@code Retry-After}, type {@code urn:onion-relay:problem:store-unavailable}.
     */
    public static final String STORE_UNAVAILABLE = "store unavailable";

    private ProblemTypes() {}

    /** The type of a problem with this title: {@code "limit reached"} is {@code urn:onion-relay:problem:limit-reached}. */
    public static URI forTitle(String title) {
        return URI.create(PREFIX + slug(title));
    }

    /** The title of a problem that has no more specific one: the status's reason, in lower case. */
    public static String title(int status) {
        HttpStatus known = HttpStatus.resolve(status);
        return switch (status) {
            case 400 -> "invalid request";
            case 403 -> "forbidden";
            case 409 -> "conflict";
            case 429 -> "limit reached";
            case 500 -> "internal error";
            default -> known != null ? known.getReasonPhrase().toLowerCase(Locale.ROOT) : "error " + status;
        };
    }

    /** Whether a type is one of ours (anything else, such as Spring's {@code about:blank}, gets replaced). */
    public static boolean isOurs(@org.jspecify.annotations.Nullable URI type) {
        return type != null && type.toString().startsWith(PREFIX);
    }

    private static String slug(String title) {
        StringBuilder slug = new StringBuilder();
        for (char c : title.toLowerCase(Locale.ROOT).toCharArray()) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                slug.append(c);
            } else if (!slug.isEmpty() && slug.charAt(slug.length() - 1) != '-') {
                slug.append('-');
            }
        }
        while (!slug.isEmpty() && slug.charAt(slug.length() - 1) == '-') {
            slug.setLength(slug.length() - 1);
        }
        return slug.toString();
    }
}
