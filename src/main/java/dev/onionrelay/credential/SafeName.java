package dev.onionrelay.credential;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The one pattern for the names of relays and credentials. Both become file names (in the state directory) and URL
 * segments (in the API), and this keeps them safe as both; a temporary file starts with a dot, which no name can, so
 * the two never collide.
 *
 * <p>It lives here, beside the credentials, because the registry may depend on this package without a cycle (this
 * package depends only on {@code layer}), while {@code layer} knows nothing of relays. Each caller words its own
 * refusal, naming what kind of name was wrong.
 */
public final class SafeName {

    /** 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit. */
    public static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    private SafeName() {}

    /** Whether {@code name} is a valid relay or credential name; {@code null} is not. */
    public static boolean isValid(@Nullable String name) {
        return name != null && PATTERN.matcher(name).matches();
    }
}
