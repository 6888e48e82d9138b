#!/bin/sh
# Regenerates the recorded RFC 3161 test tokens in this folder (see README.md).
# Needs the openssl CLI and the project venv; tests never run this.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../../../.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > ext.cnf <<'CNF'
[tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# two unrelated roots: the trusted one, and "other" for the wrong-CA test
for ca in ca other-ca; do
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.pem -days 36500 \
    -subj "/O=unerased test/CN=unerased test $ca" -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
done

# two TSAs under the trusted root: RSA and ECDSA P-256
openssl req -new -newkey rsa:2048 -nodes -keyout tsa-rsa.key -out tsa-rsa.csr -subj "/O=unerased test/CN=unerased test TSA RSA" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out tsa-ec.key
openssl req -new -key tsa-ec.key -out tsa-ec.csr -subj "/O=unerased test/CN=unerased test TSA EC"
for t in tsa-rsa tsa-ec; do
  openssl x509 -req -in $t.csr -CA ca.pem -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) \
    -days 36500 -extfile ext.cnf -extensions tsa -out $t.pem 2>/dev/null
done

cat > ts.cnf <<'CNF'
[tsa_rsa]
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa-rsa.pem
certs = ./ca.pem
signer_key = ./tsa-rsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[tsa_ec]
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa-ec.pem
signer_key = ./tsa-ec.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha1
CNF
echo 01 > serial

# the data: a checkpoint note as unerased would timestamp it
printf 'unerased.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n' > checkpoint.txt

PYTHONPATH="$here/../../../src" "$py" - <<'PY'
from unerased.ledger.timestamp import build_request
data = open("checkpoint.txt", "rb").read()
open("request.tsq", "wb").write(build_request(data, nonce=0x5EED_1234_5678_9ABC))
PY
openssl ts -reply -config ts.cnf -section tsa_rsa -queryfile request.tsq -out response-rsa.tsr 2>/dev/null
openssl ts -reply -config ts.cnf -section tsa_ec -queryfile request.tsq -out response-ec.tsr 2>/dev/null
# a request the TSA refuses (sha1 is not in its digests) and one without certReq
openssl ts -query -data checkpoint.txt -sha1 -cert -out sha1.tsq 2>/dev/null
openssl ts -reply -config ts.cnf -section tsa_rsa -queryfile sha1.tsq -out rejected.tsr 2>/dev/null
openssl ts -query -data checkpoint.txt -sha256 -no_nonce -out nocert.tsq 2>/dev/null
openssl ts -reply -config ts.cnf -section tsa_rsa -queryfile nocert.tsq -out response-nocert.tsr 2>/dev/null

# cross-check with openssl itself before recording
openssl ts -verify -queryfile request.tsq -in response-rsa.tsr -CAfile ca.pem -untrusted tsa-rsa.pem >/dev/null 2>&1
openssl ts -verify -queryfile request.tsq -in response-ec.tsr -CAfile ca.pem -untrusted tsa-ec.pem >/dev/null 2>&1

cp ca.pem other-ca.pem tsa-rsa.pem tsa-ec.pem checkpoint.txt request.tsq \
   response-rsa.tsr response-ec.tsr rejected.tsr response-nocert.tsr "$here/"
echo "recorded in $here"
