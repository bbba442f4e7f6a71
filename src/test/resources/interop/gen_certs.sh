#!/usr/bin/env bash
# gen_certs.sh DIR - throwaway test PKI for nested_tls.py (openssl CLI, EC P-256).
#   ca1.pem/ca1.key   CA 1            ca2.pem/ca2.key   CA 2 (independent trust per layer)
#   a.pem/a.key       server a.test    (CA 1)
#   b.pem/b.key       server b.test    (CA 2)
#   c.pem/c.key       server c.test    (CA 1)
#   client.pem/.key   client "interop-client" (CA 2, clientAuth)
set -euo pipefail
dir=${1:?usage: gen_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

mkca() { # name cn
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 2 -subj "/CN=$2" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

mkleaf() { # name cn ca san eku
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  cat > "$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$5
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$4
EOF
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -sha256 -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

mkca ca1 "Interop Test CA 1"
mkca ca2 "Interop Test CA 2"
mkleaf a a.test ca1 "DNS:a.test,DNS:localhost,IP:127.0.0.1" serverAuth
mkleaf b b.test ca2 "DNS:b.test,DNS:localhost,IP:127.0.0.1" serverAuth
mkleaf c c.test ca1 "DNS:c.test,DNS:localhost,IP:127.0.0.1" serverAuth
mkleaf client interop-client ca2 "DNS:interop-client" clientAuth
