package policy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// contextCase is a text holding sensitive values outside the plain
// key=value syntax: none of leaks may survive redaction, and, where keep is
// set, those parts of the text (the syntax around the value) must.
type contextCase struct {
	name  string
	text  string
	leaks []string
	keep  []string
}

// contextCases are the misses an independent corpus of agent-memory text
// found, rewritten with values of our own.
var contextCases = []contextCase{
	// Short CLI flags of common tools.
	{name: "docker login -p", text: "docker login -u ci-bot -p Dh7#kq2LmZ registry.example.com", leaks: []string{"Dh7#kq2LmZ"}, keep: []string{"registry.example.com", "-u ci-bot"}},
	{name: "docker login --password", text: "docker login --username ci --password Xk29fmQpL0 ghcr.io", leaks: []string{"Xk29fmQpL0"}},
	{name: "helm registry login -p", text: "helm registry login reg.example.io -u bot -p Hq2zm8kLw3", leaks: []string{"Hq2zm8kLw3"}},
	{name: "mysql -pSECRET", text: "mysql -u root -pS3cr3tPw db_prod", leaks: []string{"S3cr3tPw"}, keep: []string{"db_prod"}},
	{name: "mysql -p'…'", text: "mysql -h db -u app -p'Qm9!zx7Lpa' app", leaks: []string{"Qm9!zx7Lpa"}},
	{name: "mysqldump -p\"…\"", text: `mysqldump -uroot -p"Vb6&tr2Wq" --all-databases > dump.sql`, leaks: []string{"Vb6&tr2Wq", "tr2Wq"}},
	{name: "sshpass -p '…'", text: "sshpass -p 'r7Gk2mWq9z' ssh deploy@10.0.0.5", leaks: []string{"r7Gk2mWq9z"}},
	{name: "sshpass -pSECRET", text: "sshpass -pTg5mB8xPq3 scp backup.tar host:/srv", leaks: []string{"Tg5mB8xPq3"}},
	{name: "az login -p", text: "az login --service-principal -u http://ci-app -p Nq8~kP2.wLz4 --tenant contoso", leaks: []string{"Nq8~kP2.wLz4"}},
	{name: "az login user -p", text: "az login -u admin@contoso.com -p Hz3kq9mLwe", leaks: []string{"Hz3kq9mLwe"}},
	{name: "redis-cli -a", text: "redis-cli -h cache -a Rk9zq2mWpL ping", leaks: []string{"Rk9zq2mWpL"}},
	{name: "ldapsearch -w", text: "ldapsearch -x -D cn=admin,dc=example -w Yq3mZp8kLw -b dc=example", leaks: []string{"Yq3mZp8kLw"}},
	{name: "smbclient -U user%pass", text: "smbclient //srv/share -U alice%Pz7kq2Mw", leaks: []string{"Pz7kq2Mw"}},
	{name: "openssl -passout pass:", text: "openssl pkcs12 -export -passout pass:Kq8zm2Lw7 -out bundle.p12", leaks: []string{"Kq8zm2Lw7"}},
	{name: "keytool -storepass", text: "keytool -genkey -alias app -storepass Zq2mk8Lw4 -keypass Wm5kq2Lz8", leaks: []string{"Zq2mk8Lw4", "Wm5kq2Lz8"}},
	{name: "sqlcmd -P", text: "sqlcmd -S db.internal -U sa -P Qz8mk2Lw!x -Q 'select 1'", leaks: []string{"Qz8mk2Lw"}},
	{name: "mongosh -p", text: `mongosh "mongodb://db.internal" -u admin -p Mq7zk2Lw9`, leaks: []string{"Mq7zk2Lw9"}},
	{name: "psql URL", text: "psql postgresql://app:pG7hq2Lmz@db.internal:5432/prod", leaks: []string{"pG7hq2Lmz"}},
	{name: "psql URL with encoded @", text: `psql "postgres://app:p%40ss9word@db.internal/prod"`, leaks: []string{"p%40ss9word", "ss9word"}},
	{name: "URL password holding @", text: "DATABASE_URL=postgres://app:p@ss9word@db.internal/prod", leaks: []string{"ss9word"}},
	{name: "curl -u user:pass", text: "curl -u ci-bot:Wq7mZk2pLx https://api.example.com/v1/items", leaks: []string{"Wq7mZk2pLx"}, keep: []string{"https://api.example.com/v1/items"}},
	{name: "curl --user 'user:pass'", text: "curl --user 'admin:J8s!kq2Mzp' -X POST https://api.example.com", leaks: []string{"J8s!kq2Mzp"}},
	{name: "curl -uuser:pass", text: "curl -uadmin:Lm4tq8Zx https://api.example.com", leaks: []string{"Lm4tq8Zx"}},
	{name: "curl --user=user:pass", text: "curl --user=deploy:Vq2mk9Lz https://api.example.com", leaks: []string{"Vq2mk9Lz"}},

	// Brackets are characters of a value: only a bracket the value did not
	// open, closing what it stands in, ends it.
	{name: "brackets inside a value", text: "db_pass = Qm{{h}o)p${e]nob(ody[fi>-_$#k9}}", leaks: []string{"Qm{{h", "nob(ody", "-_$#k9"}},
	{name: "a bracket run after a value", text: "secret := Vx7>-_$#kq2}}", leaks: []string{"Vx7", "kq2"}},
	{name: "a flow mapping's brace", text: "{password: Kq2zm8Lw}", leaks: []string{"Kq2zm8Lw"}, keep: []string{"}"}},

	// Credentials as positional arguments where the callee says so.
	{name: "HTTPBasicAuth", text: `auth = HTTPBasicAuth("ci-bot", "Zp4kq8mWx2")`, leaks: []string{"Zp4kq8mWx2"}},
	{name: "requests auth tuple", text: `r = requests.get(url, auth=("ci-bot", "Lq7mz2Kw9p"))`, leaks: []string{"Lq7mz2Kw9p"}},
	{name: "Go SetBasicAuth", text: `req.SetBasicAuth("ci-bot", "Tk8qz3mLw2")`, leaks: []string{"Tk8qz3mLw2"}},
	{name: "C# NetworkCredential", text: `var cred = new NetworkCredential("svc", "Wm3kq9zLp2");`, leaks: []string{"Wm3kq9zLp2"}},
	{name: "OkHttp Credentials.basic", text: `String c = Credentials.basic("admin", "Xk4mq9zLp");`, leaks: []string{"Xk4mq9zLp"}},
	{name: "smtp login", text: `server.login("me@example.com", "abcd efgh ijkl mnop")`, leaks: []string{"abcd efgh ijkl mnop"}},
	{name: "Twilio Client", text: `client = Client("AC3f9a1c2b4d5e6f708192a3b4c5d6e7f8", "9f8e7d6c5b4a39281706f5e4d3c2b1a0")`, leaks: []string{"9f8e7d6c5b4a39281706f5e4d3c2b1a0"}},

	// Prose with words between the keyword and the value.
	{name: "en: password for … is", text: "the wifi password for the office is Tr0ub4dor&3, ask Dana", leaks: []string{"Tr0ub4dor&3"}},
	{name: "en: pw:", text: "staging box pw: Xq7kz2Lm", leaks: []string{"Xq7kz2Lm"}},
	{name: "en: api key for … is", text: "the api key for staging is 9fQ2mZk8Lw4pX7tR", leaks: []string{"9fQ2mZk8Lw4pX7tR"}},
	{name: "en: password right before it", text: "ssh root@203.0.113.9 with password toor2024! then sudo", leaks: []string{"toor2024"}},
	{name: "en: password to … is", text: "the password to the office wifi is Guest2024!", leaks: []string{"Guest2024"}},
	{name: "en: is now", text: "The root password on db-1 is now Tr0ub4dor&3.", leaks: []string{"Tr0ub4dor"}},
	{name: "fr: est :", text: "Le mot de passe est : Bonjour2024!", leaks: []string{"Bonjour2024"}},
	{name: "es: la clave … es", text: "La clave del wifi es Casa1234", leaks: []string{"Casa1234"}},
	{name: "en: PIN is", text: "my PIN is 4921, don't tell", leaks: []string{"4921"}},
	{name: ".netrc", text: "machine api.example.com login ci password Xk29fmQpL0", leaks: []string{"Xk29fmQpL0"}, keep: []string{"login ci"}},
	{name: "de: Passwort für …:", text: "Passwort für den Testserver: Sommer2024!", leaks: []string{"Sommer2024"}},
	{name: "de: das Passwort ist", text: "das Passwort für das WLAN ist Haus2024!", leaks: []string{"Haus2024"}},
	{name: "de: Kennwort:", text: "Kennwort: Wm4kq9zLp", leaks: []string{"Wm4kq9zLp"}},
	{name: "fr: mot de passe :", text: "mot de passe : Qz8mk2Lw!", leaks: []string{"Qz8mk2Lw"}},
	{name: "fr: le mot de passe … est", text: "le mot de passe du wifi est Soleil2024", leaks: []string{"Soleil2024"}},
	{name: "es: contraseña:", text: "contraseña: Lp9zq2Mk", leaks: []string{"Lp9zq2Mk"}},
	{name: "es: la contraseña … es", text: "la contraseña del router es Casa2024!", leaks: []string{"Casa2024"}},
	{name: "it: la password … è", text: "la password del wifi è Pizza2024!", leaks: []string{"Pizza2024"}},
	{name: "pt: a senha … é", text: "a senha do wifi é Praia2024!", leaks: []string{"Praia2024"}},
	{name: "pt: senha:", text: "senha: Xk8mq2Lz", leaks: []string{"Xk8mq2Lz"}},
	{name: "nl: het wachtwoord … is", text: "het wachtwoord van de wifi is Fiets2024!", leaks: []string{"Fiets2024"}},
	{name: "nl: wachtwoord:", text: "wachtwoord: Kq8zm2Lw", leaks: []string{"Kq8zm2Lw"}},
	{name: "he: הסיסמה … היא", text: "הסיסמה לוויפי היא Shalom2024!", leaks: []string{"Shalom2024"}},
	{name: "he: סיסמה:", text: "סיסמה: Kz8mq2Lw", leaks: []string{"Kz8mq2Lw"}},

	// Unquoted values end where their syntax ends.
	{name: "env value with &", text: "DB_PASSWORD=x7Kq2m&904\nDB_USER=app", leaks: []string{"x7Kq2m", "&904"}, keep: []string{"DB_USER=app"}},
	{name: "env value with ;", text: "PASSWORD=ab;cd9Xq", leaks: []string{"ab;cd9Xq", "cd9Xq"}},
	{name: "env value with ,", text: "API_TOKEN=Tk9m,zq2Lw8", leaks: []string{"zq2Lw8"}},
	{name: "query string", text: "https://app.example.com/cb?token=Zk8mq2Lw9&state=af0ifjsldkj", leaks: []string{"Zk8mq2Lw9"}, keep: []string{"&state=af0ifjsldkj"}},
	{name: "connection string", text: "Server=db;User Id=app;Password=Lq8m&z2Kw;Database=prod", leaks: []string{"Lq8m&z2Kw"}, keep: []string{";Database=prod"}},
	{name: "Azure account key", text: "AccountKey=b6Hc2FvWejWOx3DSuJlmyafVtCIXBeza;EndpointSuffix=core.windows.net", leaks: []string{"b6Hc2FvWejWOx3DSuJlmyafVtCIXBeza"}, keep: []string{";EndpointSuffix=core.windows.net"}},
	{name: "JSON number", text: `{"pin": 430685, "user": "app"}`, leaks: []string{"430685"}, keep: []string{`"user": "app"`}},
	{name: "YAML flow mapping", text: "{password: Kq8zm2Lw, user: app}", leaks: []string{"Kq8zm2Lw"}, keep: []string{"user: app}"}},

	// Encoded secrets.
	{name: "kubeconfig client-key-data", text: "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVBN2JxWmszbVE4dkx3MlhwOVJ0Ci0tLS0tRU5EIFJTQSBQUklWQVRFIEtFWS0tLS0tCg==\n", leaks: []string{"NSUlFb3dJQkFBS0NBUUVBN2Jx"}},
	{name: "docker config auth", text: `{"auths":{"https://index.docker.io/v1/":{"auth":"Y2ktYm90Olp4OGtxMm1MdzQ="}}}`, leaks: []string{"Y2ktYm90Olp4OGtxMm1MdzQ"}},
	{name: "npmrc _auth", text: "_auth=ZGVwbG95OkhxN216Mkt3OXA=\nalways-auth=true", leaks: []string{"ZGVwbG95OkhxN216Mkt3OXA"}},
	{name: "basic header", text: `curl -H "Authorization: Basic Y2ktYm90Olp4OGtxMm1MdzQ=" https://api.example.com`, leaks: []string{"Y2ktYm90Olp4OGtxMm1MdzQ"}},
	{name: "basic credential unpadded", text: "send basic Y2ktYm90Olp4OGtxMm1MdzQ with it", leaks: []string{"Y2ktYm90Olp4OGtxMm1MdzQ"}},
	{name: "Azure SAS sig", text: "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-01T00:00:00Z&spr=https&sig=Zk8mQ2Lw4pX%2Bq7R9tY3uV1w%3D", leaks: []string{"Zk8mQ2Lw4pX", "tY3uV1w"}, keep: []string{"?sv=2022-11-02"}},
	{name: "URL-encoded email", text: "https://news.example.com/unsubscribe?email=maria.lopez%40example.com&t=1", leaks: []string{"maria.lopez"}},
	{name: "obfuscated email with dotted name", text: "write to maria dot lopez at example dot com", leaks: []string{"maria", "lopez"}},
	{name: "address with a spelled-out dot", text: "mail maria dot lopez@example.com today", leaks: []string{"maria", "lopez"}, keep: []string{"mail ", " today"}},
	{name: "obfuscated email, bracketed", text: "maria.lopez [at] example [dot] com", leaks: []string{"maria.lopez"}},

	// Phones, addresses, IBANs, JWTs.
	{name: "Israeli mobile", text: "call +972-50-236-8763 after six", leaks: []string{"236-8763"}},
	{name: "00 international prefix", text: "Tel. 0041 21 345 67 89", leaks: []string{"345 67 89"}},
	{name: "reference word nearby", text: "Questions about your receipt? Call 020 7946 0958", leaks: []string{"7946 0958"}},
	{name: "reference word, international number", text: "receipt sent to +1 415 555 2671 by SMS", leaks: []string{"555 2671"}},
	{name: "IPv4 with CIDR suffix", text: "allow 10.12.0.0/16 and 192.168.4.0/24", leaks: []string{"10.12.0.0", "192.168.4.0"}},
	{name: "lower-case IBAN", text: "iban de89 3704 0044 0532 0130 00", leaks: []string{"0532 0130"}},
	{name: "dash-grouped IBAN", text: "IBAN DE89-3704-0044-0532-0130-00", leaks: []string{"0532-0130"}},
	{name: "unsigned JWT", text: "token eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0. accepted", leaks: []string{"eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0"}},
}

// benignContext are texts that look like the cases above but hold nothing
// to redact: documentation placeholders, names of variables, code, and
// the false positives the independent corpus found.
var benignContext = []string{
	// Placeholders and documentation values.
	"OPENAI_API_KEY=sk-...xxxx",
	"export OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	"GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	"set GITHUB_TOKEN to ghp_xxxx… before running",
	"api_key: YOUR_API_KEY_HERE",
	`"apiKey": "your-api-key"`,
	"DATABASE_URL=postgres://USER:PASS@HOST:5432/DB",
	"postgres://user:password@localhost:5432/mydb",
	`token = "<TOKEN>"`,
	"password: <your-password>",
	"Authorization: Bearer <token>",
	"Authorization: Bearer YOUR_TOKEN_HERE",
	"AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	"Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ=",
	`{"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}}`,
	"password=********",
	// Names of arguments and variables as values.
	"db.connect(host=DB_HOST, password=DB_PASSWORD)",
	"password=DB_PASSWORD",
	"const token = session?.access_token;",
	"let secret = data!.secret;",
	`curl -u "$API_USER:$API_TOKEN" https://api.example.com`,
	"curl -u $USER:$PASS https://api.example.com",
	"auth = HTTPBasicAuth(user, password)",
	"client = Client(account_sid, auth_token)",
	`server.login(username, password)`,
	// Tools whose -p or -u is no password.
	"docker run -p 8080:8080 app",
	"mysql -u root -p",
	"mysql -h db -P 3306 -u app -p app_db",
	"ssh -p 2222 deploy@host",
	"curl -u alice https://api.example.com",
	"curl -X POST https://api.example.com/v1/items -d @body.json",
	"WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
	"echo $PW | docker login --password-stdin -u ci",
	// Prose that names a password without giving one.
	"The password for the account is stored in the vault.",
	"Passwort vergessen? Klicken Sie hier.",
	"le mot de passe est trop court",
	"la contraseña es demasiado corta",
	"the password must be at least 12 characters: letters, digits and symbols",
	"my password manager is 1Password",
	"the boarding pass for flight 12 is 45B",
	"pin 3 of the header is GND",
	"hall pass 2024-Q3 for the review",
	"an enclave: sgx2 only",
	"the password reset-link expired",
	"password hashing uses bcrypt2 by default",
	// Addresses, numbers and files that are not PII.
	"git clone git@github.com:acme/api.git",
	`<img src="icon@2x.png" alt="">`,
	"nameserver 127.0.0.53",
	"listen on 0.0.0.0:8080 and 127.0.0.1",
	"Fibonacci: 1 1 2 3 5 8 13 21 34 55 89 144 233 377",
	"fib 1 1 2 3 5 8 13 21 34 55 89 144",
	"fib 1-2-3-5-8-13-21-34-55-89-144",
	"fib 0 1 1 2 3 5 8 13 21",
	"order 555-123-4567 shipped",
	"meet on 2026-11-30 at 10:30",
	`"auth": "oauth2"`,
	"client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM4RENDQWRpZ0F3SUJBZ0lJWmszbVE4dkx3MlhwCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
	// Markers of an earlier redaction are inert.
	"password=[REDACTED:password]",
	"DB_PASSWORD=[password:3f9a1c2b4d5e]",
	"call [phone:123456789012] later",
	"[REDACTED:phone] 2025550143",
}

func TestContextBeyondKeyValue(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, c := range contextCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := r.Redact("ws", c.text).Text
			for _, leak := range c.leaks {
				require.NotContains(t, out, leak, "%q → %q", c.text, out)
			}
			for _, kept := range c.keep {
				require.Contains(t, out, kept, "%q → %q", c.text, out)
			}
		})
	}
}

func TestPlaceholdersAndLookalikesStay(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, text := range benignContext {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			out := r.Redact("ws", text)
			require.Equal(t, text, out.Text, "counts %v", out.Counts)
			require.Empty(t, out.Counts)
		})
	}
}

// actionRedactor applies one action to every built-in kind, per workspace
// named after the action, plus custom rules: one ordinary, and one whose
// pattern also matches the words of its own markers.
func actionRedactor(t testing.TB) *policy.Redactor {
	t.Helper()
	cfg := policy.FileConfig{Workspaces: map[string]policy.PolicyConfig{}}
	for _, action := range allActions {
		actions := map[string]policy.Action{}
		for _, kind := range policy.BuiltinKinds() {
			actions[kind] = action
		}
		cfg.Workspaces[string(action)] = policy.PolicyConfig{
			Actions: actions,
			Rules: []policy.RuleConfig{
				{Name: "employee_id", Pattern: `EMP-\d{6}`, Action: action},
				{Name: "shouting", Pattern: `[A-Z]{4,}(?::[a-z_]+)?`, Action: action},
			},
		}
	}
	r, err := policy.NewRedactor(cfg)
	require.NoError(t, err)
	return r
}

var allActions = []policy.Action{policy.ActionMask, policy.ActionHash, policy.ActionDrop, policy.ActionReject}

func TestRedactionIsIdempotentForEveryAction(t *testing.T) {
	t.Parallel()
	r := actionRedactor(t)
	var texts []string
	for _, c := range contextCases {
		texts = append(texts, c.text)
	}
	texts = append(texts, benignContext...)
	texts = append(texts, "EMP-123456 and PASSWORD=[password:3f9a1c2b4d5e] and [REDACTED:shouting]")
	for _, action := range allActions {
		for _, text := range texts {
			once := r.Redact(string(action), text).Text
			twice := r.Redact(string(action), once).Text
			require.Equal(t, once, twice, "%s: %q", action, text)
		}
	}
}

// TestHashMarkersAreNotHashedAgain is the nested hash once seen: a hash
// marker looks like a key/value pair ("[password:…]") and was hashed
// again, levels deep, leaving the value's tail.
func TestHashMarkersAreNotHashedAgain(t *testing.T) {
	t.Parallel()
	actions := map[string]policy.Action{}
	for _, kind := range policy.BuiltinKinds() {
		actions[kind] = policy.ActionHash
	}
	r, err := policy.NewRedactor(policy.FileConfig{Default: policy.PolicyConfig{Actions: actions}})
	require.NoError(t, err)
	for _, c := range []struct{ text, want string }{
		{"DB_PASSWORD=abc&3x", "DB_PASSWORD=[password:#]"},
		{"password=Kq8zm2Lw&3x\nuser=app", "password=[password:#]\nuser=app"},
		{`{"password": "Kq8zm2Lw"}`, `{"password": "[password:#]"}`},
		{"password: [password:3f9a1c2b4d5e]", "password: [password:#]"},
		{"[password:3f9a1c2b4d5e]&3x", "[password:#]&3x"},
		{"token=[api_key:0123456789ab] secret=[password:ba9876543210]", "token=[api_key:#] secret=[password:#]"},
	} {
		text := c.text
		for range 3 {
			text = r.Redact("ws", text).Text
			require.Equal(t, c.want, hashOfMarker.ReplaceAllString(text, ":#]"), "from %q", c.text)
		}
	}
}

// hashOfMarker is the hash in a hash marker, which the tests do not pin.
var hashOfMarker = regexp.MustCompile(`:[0-9a-f]{12}\]`)

func TestMarkersAreNoContext(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, text := range []string{
		// A marker naming a key is no key, and the word in it no context.
		"[REDACTED:password] is Kq8zm2Lw9",
		"[password:3f9a1c2b4d5e] is 2025550143",
		"[phone:3f9a1c2b4d5e] 2025550143",
	} {
		out := r.Redact("ws", text)
		require.Equal(t, text, out.Text)
		require.True(t, strings.Count(out.Text, "[") == strings.Count(text, "["))
	}
}

// FuzzRedactIdempotent: for every action, redacting what redaction left
// changes nothing — markers included, custom rules' too.
func FuzzRedactIdempotent(f *testing.F) {
	for _, c := range contextCases {
		f.Add(c.text)
	}
	for _, text := range benignContext {
		f.Add(text)
	}
	for kind, values := range Corpus {
		for _, v := range values {
			f.Add(sentence(kind, v))
		}
	}
	f.Add("DB_PASSWORD=abc&3x EMP-123456 [password:3f9a1c2b4d5e] [REDACTED:shouting] SECRET")
	r := actionRedactor(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, action := range allActions {
			once := r.Redact(string(action), text)
			twice := r.Redact(string(action), once.Text)
			if twice.Text != once.Text {
				t.Fatalf("%s is not idempotent:\n%q\n%q\n%q", action, text, once.Text, twice.Text)
			}
		}
	})
}
