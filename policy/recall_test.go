package policy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// recallCase is a rule of the detectors beyond the project's own corpus:
// texts whose leaks must not survive redaction, and look-alikes that must
// come out unchanged.
type recallCase struct {
	rule   string
	caught []struct{ text, leak string }
	stay   []string
}

type leakIn = struct{ text, leak string }

var recallCases = []recallCase{
	{
		rule: "a phone word of any language lets its regions read the number",
		caught: []leakIn{
			{"Telepono: 09171234567", "1234567"},
			{"Phone: 5321234567", "1234567"},
			{"Cep no: 0532 123 45 67", "123 45 67"},
			{"Telefon: 030 1234567", "1234567"},
			{"טלפון: 03-6234567", "6234567"},
			{"Teléfono: 612 34 56 78", "34 56 78"},
			{"My CN number is 13812345678", "12345678"},
			{"我的手机号是13812345678", "12345678"},
		},
		stay: []string{
			"the build took 5321234567 ns",
			"my credit card number is 36168002586008",
			"order number 09171234567 shipped",
			"Phone: 12345",
			"tel 4155550132:x7Kq",
			"the number 5551234 is fake",
			"number 1234567 of 9999999",
		},
	},
	{
		rule: "references in the languages memories are written in, and quantities, are no phones",
		caught: []leakIn{
			{"Meine Telefonnummer ist 0171 2345678", "2345678"},
			{"Mon numéro : 06 12 34 56 78", "12 34 56 78"},
		},
		stay: []string{
			"numero de pedido 05321234567",
			"Bestellnummer 0171 2345678",
			"Référence 06 12 34 56 78",
			"sipariş 05321234567",
			"timestamp=09171234567",
			"seed 0712345678 for the RNG",
			"The build finished in 01712345678 ns",
			"downloaded 0915234567 bytes",
			"the number of rows is 05321234567",
			"llama 3 405b: 3311234567 tokens",
		},
	},
	{
		rule: "a bare national number is a phone when it is a mobile number of a region writing numbers so",
		caught: []leakIn{
			{"09171234567", "09171234567"},
			{"First: +639171234567, Second: 09181234567", "09181234567"},
			{"Ikinci: 05359876543", "05359876543"},
			{"07700 900123", "900123"},
		},
		stay: []string{
			"0123456789",
			"00000012345",
			"invoice 09171234567",
			"01234567890 rows",
			"0111111111",
			"EE38 2200 2210  014 5686",
		},
	},
	{
		rule: "a literal compared with a key is its secret",
		caught: []leakIn{
			{`if (db_pass != "Qm9!zx7Lpa") {`, "Qm9!zx7Lpa"},
			{`if (api_key === "Zk8mQ2Lw4pX7") {`, "Zk8mQ2Lw4pX7"},
			{`if ("Qm9!zx7Lpa" == password) {`, "Qm9!zx7Lpa"},
			{`if ("Zk8mQ2Lw4pX7" !== my_private_key) {`, "Zk8mQ2Lw4pX7"},
		},
		stay: []string{
			`if (password == "") {`,
			`if (password != confirm) {`,
			`if (mode == "password") {`,
			`if ("password" == field.type) {`,
			`if (token == null) {`,
		},
	},
	{
		rule: "assignments of other languages",
		caught: []leakIn{
			{`generic_TOKEN ?= "Zf3D0LXCM3EIMbgJpUNn"`, "Zf3D0LXCM3EIMbgJpUNn"},
			{`$password .= "Kq8zm2Lw";`, "Kq8zm2Lw"},
			{`@api_token ||= "Tk9mzq2Lw8xP"`, "Tk9mzq2Lw8xP"},
			{`password = @"Wm3kq9zLp2";`, "Wm3kq9zLp2"},
			{`$config['db_pass'] .= 'Hq7mz2Kw9p';`, "Hq7mz2Kw9p"},
			{`os.environ["API_TOKEN"] = "Tk9mzq2Lw8xP"`, "Tk9mzq2Lw8xP"},
			{`opts[:password] = "Kq8zm2Lw!x"`, "Kq8zm2Lw!x"},
		},
		stay: []string{
			"CFLAGS ?= -O2",
			`$password .= $salt;`,
		},
	},
	{
		rule: "a literal given to a key directly",
		caught: []leakIn{
			{`password "Kq8zm2Lw!x";`, "Kq8zm2Lw!x"},
			{`std::string secret("Vx7kq2Lw9z");`, "Vx7kq2Lw9z"},
			{`DataSourceBuilder.create().username("sa").password("s3cr3t-Pw")`, "s3cr3t-Pw"},
			{`utils.GetEnvOrDefault("api_token", "dafa7817-e246-48f3-91a7-e87653d587b8")`, "e87653d587b8"},
			{`creds := credentials.NewStaticCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz8k2mLw9q", "")`, "bPxRfiCYzz8k2mLw9q"},
			{`token = jwt.encode(payload, "Hq7mz2Kw9pXk29fmQpL0", algorithm="HS256")`, "Hq7mz2Kw9pXk29fmQpL0"},
			{`const sig = crypto.createHmac('sha256', 'Hq7mz2Kw9pXk29fmQpL0')`, "Hq7mz2Kw9pXk29fmQpL0"},
		},
		stay: []string{
			`user.getPassword("alice")`,
			`vault.read_secret("db/prod")`,
			`fields = ("password", "email")`,
			`os.getenv("API_TOKEN", "")`,
			`creds := credentials.NewStaticCredentials(id, secret, "")`,
			`token = jwt.encode(payload, key, algorithm="HS256")`,
		},
	},
	{
		rule: "keys that name a secret loosely hold one only if it looks generated",
		caught: []leakIn{
			{"SIGNING_KEY=v8E3ioDVccSn6C4WYkBo9bKjlmL56K", "v8E3ioDVccSn6C4WYkBo9bKjlmL56K"},
			{"softlayer-key: abcd1234efgh5678ijkl9012mnop3456", "abcd1234efgh5678ijkl9012mnop3456"},
			{`encryptionKey = "Qm9zx7Lpa2Wk4Rt8"`, "Qm9zx7Lpa2Wk4Rt8"},
			{"creds = 74U43ndj0DkMq0WNbmXDGj7v2Hq7Nr", "74U43ndj0DkMq0WNbmXDGj7v2Hq7Nr"},
			{"mySecretString=wCdea7IaxOQwKxPuXfPtz6x8vKAojt", "wCdea7IaxOQwKxPuXfPtz6x8vKAojt"},
			{"todo_secret_do_not_commit = v8E3ioDVccSn6C4WYkBo9bKjlmL56K", "v8E3ioDVccSn6C4WYkBo9bKjlmL56K"},
			{`secrete = "A,.:-¨@*¿?!"`, "A,.:-¨@*¿?!"},
			{"db_pass_secure := m{{h}o)p${e]nob(ody[finds>-_$#one}}", "nob(ody"},
			{"ibm-cloud-pwd = Kq8zm2Lw9x", "Kq8zm2Lw9x"},
			{`char secrete[25] = "Vx7kq2Lw9z";`, "Vx7kq2Lw9z"},
			{`static const char db_password[] = "Vx7kq2Lw9z";`, "Vx7kq2Lw9z"},
		},
		stay: []string{
			"PRIMARY_KEY = user_id",
			"some_key = \"real_secret\"",
			"secretRef: db-credentials",
			"secretProviderClass: azure-kv",
			"public_key: MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
			`"bucket_key": "SalesResults-1.2"`,
			"schemaKey = 'DOC_Vector_5_32'",
			"oktaKey = 00000000000000000000000000000000000TUVWXYZ",
			"region_key: us-east-1",
			"kms_key: arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d",
			"data_key = uploads/42/avatar.png",
			"hotKey: Ctrl+Shift+P",
			"the monkey = 12 bananas",
			"the secretary: Ms. Lee",
			"pass_through: true",
			"keyVaultToStoreSecrets: cmp2-qat-1208358310",
			"password[0] = 'x'",
			"tokens[i] = next()",
		},
	},
	{
		rule: "a token longer than the window it is first read in is read whole",
		caught: []leakIn{
			{`"idToken": "` + longJWT + `",`, "Zk8mQ2Lw4pX7tR9sQ1vB"},
			{"dashboard?k8sToken=" + longJWT + "\">", "Zk8mQ2Lw4pX7tR9sQ1vB"},
		},
	},
	{
		rule: "an unsigned JWT without its last dot",
		caught: []leakIn{
			{"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJuYW1lIjoiSm9lIiwKInN0YXR1cyI6ImVtcGxveWVlIgp9", "eyJuYW1lIjoiSm9lIiwKInN0YXR1cyI6ImVtcGxveWVlIgp9"},
			{"token: eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9 accepted", "eyJzdWIiOiJhZG1pbiJ9"},
		},
		stay: []string{
			"eyJub3QiOiJhIGhlYWRlciJ9.eyJzdWIiOiJhZG1pbiJ9",
			"eyJhbGciOiJub25lIn0.eyJub3QganNvbg",
		},
	},
	{
		rule: "the values of a Kubernetes Secret's data and stringData",
		caught: []leakIn{
			{"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  # base64\n  extra: S3E4em0yTHc5eA==\n", "S3E4em0yTHc5eA=="},
			{"apiVersion: v1\ndata:\n  extra: 'S3E4em0yTHc5eA=='\nkind: 'Secret'\nmetadata:\n  name: db", "S3E4em0yTHc5eA=="},
			{"apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockercfg\ndata:\n  .dockercfg: |\n    eyJhdXRocyI6eyJyZWcuZXhhbXBsZS5jb20iOnt9fX0=\n", "eyJhdXRocyI6eyJyZWcuZXhhbXBsZS5jb20iOnt9fX0="},
			{"kind: Secret\nstringData:\n  password: Kq8zm2Lw9x\n  user: app\n", "Kq8zm2Lw9x"},
			{`{"apiVersion":"v1","kind":"Secret","data":{"token":"S3E4em0yTHc5eA=="}}`, "S3E4em0yTHc5eA=="},
		},
		stay: []string{
			"apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: UHJvZHVjdGlvbk1vZGU=\n",
			"kind: Secret\nmetadata:\n  name: db\n---\nkind: ConfigMap\ndata:\n  mode: UHJvZHVjdGlvbk1vZGU=\n",
			"apiVersion: v1\nkind: secret\ndata:\n  extra: YmFyCg==\n",
			"kind: Secret\ndata:\n  htpasswd: {{ htpasswd }}\n  csrf: \"\"\n",
			"kind: SecretStore\ndata:\n  mode: UHJvZHVjdGlvbk1vZGU=\n",
		},
	},
	{
		rule: "IPv6 addresses of allocated ranges, zones, prefixes and a sentence's last dot",
		caught: []leakIn{
			{"Gateway: fe80::1 on interface", "fe80::1"},
			{"ping fe80::1%eth0", "fe80::1"},
			{"Multicast ff02::1", "ff02::1"},
			{"Prefix: 2001:db8::/32", "2001:db8::"},
			{"Server IP: 2400:c401::5054:ff:fe1b:b031.", "2400:c401::5054:ff:fe1b:b031"},
			{"reach it at fd12:3456::9:", "fd12:3456::9"},
		},
		stay: []string{
			"std::cout",
			"MyClass::toString",
			"dead::beef",
			"a::b::c",
			"Time 12:34:56",
			"MAC address aa:bb:cc:dd:ee:ff",
			"12345:db8::1",
		},
	},
	{
		rule: "an address at an internationalised top-level domain",
		caught: []leakIn{
			{"write to a@xn--d1acufc.xn--p1ai", "a@xn--d1acufc"},
		},
		stay: []string{"see icon@2x.png", "git@github.com:acme/api.git"},
	},
	{
		rule: "cards printed side by side, a card after a figure, a UATP card a card word calls one",
		caught: []leakIn{
			{"4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", "4012888888881881"},
			{"4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", "4012-8888-8888-1881"},
			{"4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", "4012 8888 8888 1881"},
			{"card 1 4111 1111 1111 1111", "4111 1111 1111 1111"},
			{"4111 1111 1111 1111 5500 0000 0000 0004 3400 0000 0000 009 6011 0000 0000 0004 3530 1113 3330 0000", "3530 1113 3330 0000"},
			{"4111 1111 1111 1111 5500 0000 0000 0004 3400 0000 0000 009 6011 0000 0000 0004 3530 1113 3330 0000", "4111 1111 1111 1111"},
			{"my credit card: 122000000000003", "122000000000003"},
		},
		stay: []string{
			"RS35 2600 0560 1001 6113 70",
			"build 122000000000003",
			"122000000000003",
			"1 1 2 3 5 8 13 21 34 55 89 144 233 377 610 987 1597 2584 4181 6765",
		},
	},
}

// longJWT is a signed token longer than a vendor token's first window, as
// tokens carrying many claims (Kubernetes service accounts) are.
var longJWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9." + strings.Repeat("eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50", 20) + ".Zk8mQ2Lw4pX7tR9sQ1vB-Hq2zm8kLw3_Tg5mB8xPq3"

func TestRecallRules(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, c := range recallCases {
		t.Run(c.rule, func(t *testing.T) {
			t.Parallel()
			for _, tc := range c.caught {
				out := r.Redact("ws", tc.text).Text
				require.NotContains(t, out, tc.leak, "%q → %q", tc.text, out)
			}
			for _, text := range c.stay {
				out := r.Redact("ws", text)
				require.Equal(t, text, out.Text, "counts %v", out.Counts)
			}
		})
	}
}
