#!/usr/bin/env bash
# Runs the TLS scenario tests (pops, half-close, interop, handshake failures, record alignment, providers) on another
# Java runtime than the one Maven builds with: the one the container image ships (eclipse-temurin:25-jre).
# The classes are compiled for Java 17 by the build; surefire forks its test JVM with the given runtime's java, and
# the service processes the tests start use that JVM too (ServiceProcess takes java.home).
#
#   scripts/tls-tests-on-runtime.sh /usr/lib/jvm/temurin-25-jdk-amd64
#
# Run after ./mvnw verify (or ./mvnw test-compile), from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime="${1:?usage: $0 <java home of the runtime to test on>}"
java="$runtime/bin/java"
[ -x "$java" ] || { echo "no java at $java"; exit 1; }
"$java" -version 2>&1 | head -1

tests=(
  # pops and pushes on live tunnels, under load and with bytes in the same segment
  PopUnderLoadTest PopUnderLoadLivenessTest PeerPopTest LayerPushPopTest PushDuringPendingPopTest PopLeftoverPropertyTest
  # half-close through every engine and against a real stunnel chain
  HalfCloseHoldTest HalfCloseOptionTest EngineHalfCloseTest OpenSslHalfCloseTest HalfCloseSslHandlerTest
  StunnelHalfCloseTest
  # interop with Python ssl, openssl s_client and curl; handshake failures per layer and reason
  NestedTlsInteropTest HandshakeFailureTest HandshakeFailuresTest RealClientFailureReasonTest AbandonedHandshakeTest
  # record alignment and sizing, providers, session resumption
  RecordAlignmentTest RecordSizingTest LayerProviderTest SessionResumptionTest NestedRelayTest
  # allow's access_denied and shaping's no_application_protocol from BoringSSL: through JNA on Java 17 to 21, through
  # the Foreign Function API on 22 and later
  OpenSslFatalAlertsTest AllowListKindsTest SpiffeAllowTest ShapedAlpnTest TcnativeFunctionTest
)
IFS=, list="${tests[*]}"
# Pop rounds stay at their verify defaults; -Djvm forks the tests on the runtime, with the pom's argLine (the native
# access flag keeps Java 22+ from warning about Netty's native library; Java 17 accepts it too).
./mvnw -B -o surefire:test -Djvm="$java" \
  -Dtest="$list" -Dsurefire.failIfNoSpecifiedTests=false -DtrimStackTrace=false
