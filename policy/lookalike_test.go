package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// lookalikeRule is one rule that tells a secret from what only looks like
// one: a text it still redacts (leak must not survive) and a text it
// leaves alone.
type lookalikeRule struct {
	name   string
	caught string
	leak   string
	benign string
}

var lookalikeRules = []lookalikeRule{
	{
		name:   "a call after a member path is code",
		caught: "password = Qm9.2x(Lp)", leak: "Qm9.2x(Lp)",
		benign: "password = getpass.getpass()",
	},
	{
		name:   "a call's argument after a member path is code",
		caught: `password := "Kq8zm2Lw(x)"`, leak: "Kq8zm2Lw",
		benign: `password := os.Getenv("PASSWORD")`,
	},
	{
		name:   "a password published in documentation",
		caught: `<add key="ClearTextPassword" value="Qm8!!zk2Lw" />`, leak: "Qm8!!zk2Lw",
		benign: `<add key="ClearTextPassword" value="33f!!lloppa" />`,
	},
	{
		name:   "a vendor prefix only the rule set knows is held to its shape",
		caught: "DATABRICKS_TOKEN=dapi9f8e7d6c5b4a39281706f5e4d3c2b1a0", leak: "dapi9f8e7d6c5b4a39281706f5e4d3c2b1a0",
		benign: "DATABRICKS_TOKEN=dapi123456789012345678a9bc01234defg5",
	},
	{
		name:   "a key the generic rule's allowlists name (an id) holds no secret",
		caught: "credentials: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'", leak: "ff083f76-7804-4ef1-80e4-fe975bb9141b",
		benign: "credentialsId: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'",
	},
	{
		name:   "the generic rule's allowlists judge the key, not the value",
		caught: "password: Capital2024!", leak: "Capital2024",
		benign: "publicToken = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\"",
	},
	{
		name:   "curl's allowlists: a documentation credential",
		caught: "curl -i -u 'ci:Zq8!mk2Lw' https://api.example.com", leak: "Zq8!mk2Lw",
		benign: "curl -i -u 'test:test' https://api.example.com",
	},
	{
		name:   "curl's allowlists: a bracketed placeholder",
		caught: "curl --user neo4j:Kq2zm8Lw http://localhost:7474/db/data/", leak: "Kq2zm8Lw",
		benign: "curl --user neo4j:[PASSWORD] http://localhost:7474/db/data/",
	},
	{
		name:   "a variable's name used as a value takes no value from the words after it",
		caught: `$password = "Kq8zm2Lw9";`, leak: "Kq8zm2Lw9",
		benign: "curl -X POST --user '$USERNAME:$PASSWORD' $API_URL/$GIT_COMMIT --data",
	},
	{
		name:   "a name in brackets stands for a value",
		caught: `SUMO_ACCESS_KEY="[Kq8zm2Lw9]"`, leak: "Kq8zm2Lw9",
		benign: "SUMO_ACCESS_KEY={SumoAccessKey}",
	},
	{
		name:   "a command in backticks is its output, not a value",
		caught: "SUMO_ACCESS_KEY=`Kq8zm2Lw9x`", leak: "Kq8zm2Lw9x",
		benign: "-e SUMO_ACCESS_KEY=`etcdctl get /sumologic_secret`",
	},
	{
		name:   "markup is no value",
		caught: `api_token = "<9Kq8zm2Lw"`, leak: "9Kq8zm2Lw",
		benign: `api_token = "<xsd:element name="AgencyIdentificationCode" type="clm13029:Type"/>"`,
	},
	{
		name:   "a value cut off by an elision",
		caught: "export API_TOKEN=Zk8mQ2Lw4pX7tRq1Vb3n.", leak: "Zk8mQ2Lw4pX7tRq1Vb3n",
		benign: "export API_TOKEN=Zk8mQ2Lw4pX7tRq1Vb3n...",
	},
	{
		name:   "a value whose secret part is cut out",
		caught: "secret: Zk8mQ2Lw-Xq7!", leak: "Zk8mQ2Lw",
		benign: "secret: Zk8mQ2Lw..[Redacted]",
	},
	{
		name:   "a run of # masks a token's tail",
		caught: `"token4": "xoxp-572370529330-573807301142-572331691188-Kq8zm2Lw9xVb3nQ7Zk8mQ2Lw4pX7"`, leak: "Kq8zm2Lw9xVb3nQ7",
		benign: `"token4": "xoxp-572370529330-573807301142-572331691188-####################"`,
	},
	{
		name:   "an instruction glued to a token's prefix",
		caught: "xoxe.xoxp-1-Mi0yLTM0MTQwNDE0MDE3Ni0zNjU5NDY0Njg4MTct", leak: "Mi0yLTM0MTQwNDE0MDE3Ni0zNjU5NDY0Njg4MTct",
		benign: "xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere",
	},
	{
		name:   "metasyntactic words are stand-ins",
		caught: "secretKey: Kq8zm2Lw", leak: "Kq8zm2Lw",
		benign: "secretKey: foo",
	},
	{
		name:   "a segment that says it is fake",
		caught: `cl_api_key = "q7-fakir-9Kz2m"`, leak: "q7-fakir-9Kz2m",
		benign: `cl_api_key = "a-fake-api-key"`,
	},
	{
		name:   "a doubled key is not its own value",
		caught: `api_token = "c2VjcmV0MTI="`, leak: "c2VjcmV0MTI=",
		benign: `api_token = "api_token = "`,
	},
	{
		name:   "a JWT's header must be an object naming its algorithm",
		caught: "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9.Zk8mQ2Lw4pX7tRq1Vb3nYc9dK2sLw8mQ", leak: "eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9",
		benign: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCI.eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9.Zk8mQ2Lw4pX7tRq1Vb3nYc9dK2sLw8mQ",
	},
	{
		name:   "a JWT whose header has no algorithm is none",
		caught: "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9.", leak: "eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9",
		benign: "eyJ0eXAiOiJKV1QiLCJraWQiOiJrMSJ9.eyJzdWIiOiJjaS1ib3QiLCJpYXQiOjE3MTYyMzkwMjJ9.Zk8mQ2Lw4pX7tRq1Vb3nYc9dK2sLw8mQ",
	},
	{
		name:   "a whole key block must hold a key's body",
		caught: "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFq8mZ2pLw4xR7tY9vB3nC6dF1gH5jK0\n-----END PRIVATE KEY-----", leak: "MC4CAQAwBQYDK2VwBCIEIFq8mZ2pLw4xR7tY9vB3nC6dF1gH5jK0",
		benign: "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
	},
	{
		name:   "a block cut off after its first line is still masked; an empty one is none",
		caught: "the deploy key:\n-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw", leak: "MC4CAQAwBQYDK2Vw",
		benign: "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----",
	},
	{
		name:   "an IBAN is written in one case",
		caught: "IBAN LV80 BANK 0000 4351 9500 1", leak: "4351 9500",
		benign: "IBAN LV80 bANK 0000 4351 9500 1",
	},
	{
		name:   "the digits of an IBAN with a wrong check digit are no phone number",
		caught: "NL91 ABNA 0417 1643 00", leak: "0417 1643",
		benign: "NL91 ABNA 0417 1643 01",
	},
	{
		name:   "a Hugging Face token is hf_ and 34 characters, not an identifier",
		caught: "pull with hf_Zk8mQ2Lw4pX7tRq1Vb3nYc9dK2sLw8mQpL then", leak: "Zk8mQ2Lw4pX7tRq1Vb3nYc9dK2sLw8mQpL",
		benign: "- (id)hf_requiredCharacteristicTypesForDisplayMetadata;",
	},
	{
		name:   "an anti-forgery token gives no access",
		caught: `<input type="hidden" name="access_token" value="7SWa-Fo1_hsC6oovfBsJFLGPUl2EhkSWPbJh">`, leak: "7SWa-Fo1_hsC6oovfBsJFLGPUl2EhkSWPbJh",
		benign: `<input type="hidden" name="authenticity_token" value="7SWa-Fo1_hsC6oovfBsJFLGPUl2EhkSWPbJh">`,
	},
	{
		name:   "a reference to a secret store is a pointer, not the secret",
		caught: "DB_PASSWORD=op9Kq2zm8Lw/x", leak: "op9Kq2zm8Lw",
		benign: "DB_PASSWORD=op://Private/postgres/password",
	},
	{
		name:   "a key inside a colon-separated name names nothing",
		caught: "secret: prod9Kq2zm8Lw", leak: "prod9Kq2zm8Lw",
		benign: "password: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
	},
	{
		name:   "an instruction to change the value",
		caught: "JWT_SECRET=chanGe9Kq2zm8Lw", leak: "chanGe9Kq2zm8Lw",
		benign: "JWT_SECRET=change-me",
	},
	{
		name:   "a YAML tag stands where a value would",
		caught: "password: !Kq2zm8Lw9", leak: "Kq2zm8Lw9",
		benign: "password: !vault |",
	},
	{
		name:   "a number glued to digits before it is part of a longer figure",
		caught: "Population line: call 769 495 2019", leak: "495 2019",
		benign: "Population of Berlin: 3,769,495 (2019)",
	},
	{
		name:   "a quoted keyword is a string, not a key the next word gives a value",
		caught: "ssh root@host with password Guest2024! then sudo", leak: "Guest2024",
		benign: `<input type="password" name="password" placeholder="Password" required>`,
	},
	{
		name:   "a call through a path of another language is code",
		caught: `let token = "Zk8mQ2Lw4pX7tRq1";`, leak: "Zk8mQ2Lw4pX7tRq1",
		benign: `let token = env::var("GITHUB_TOKEN").expect("GITHUB_TOKEN not set");`,
	},
	{
		name:   "a key whose value is a mapping names a structure",
		caught: "{secret: Kq2zm8Lw9, name: db}", leak: "Kq2zm8Lw9",
		benign: "secret: {name: db, key: password}",
	},
	{
		name:   "a key ending in Ref names a reference",
		caught: "tokenValue: Zk8mQ2Lw4pX7", leak: "Zk8mQ2Lw4pX7",
		benign: "tokenRef: Zk8mQ2Lw4pX7",
	},
	{
		name:   "a key that says its value is a stand-in",
		caught: `liveApiKey = "Zk8mQ2Lw4pX7tRq1"`, leak: "Zk8mQ2Lw4pX7tRq1",
		benign: `mockApiKey = "Zk8mQ2Lw4pX7tRq1"`,
	},
	{
		name:   "a key that says its value does not match",
		caught: `NON_PROD_API_TOKEN = "Zk8mQ2Lw4pX7tRq1"`, leak: "Zk8mQ2Lw4pX7tRq1",
		benign: `nonMatchingToken := "Zk8mQ2Lw4pX7tRq1"`,
	},
	{
		name:   "a value that says it is fake names what it stands for",
		caught: `password = "fake-it-till-you-make-it"`, leak: "fake-it-till-you-make-it",
		benign: `password = "dummy_password_1"`,
	},
	{
		name:   "an elision after a setting's token, not after a sentence",
		caught: "the password is Tr0ub4dor&3... I think", leak: "Tr0ub4dor",
		benign: "export OP_TOKEN=Zk8mQ2Lw4pX7tRq1Vb3nYc9d...",
	},
	{
		name:   "a vendor token is not the head of a longer run",
		caught: "GITLAB_APP_SECRET gloas-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJ in CI", leak: "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJ",
		benign: "gloas-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJLonger",
	},
	{
		name:   "a built-in vendor token with a published example",
		caught: "key AIzaQk8mZ2pLw4xR7tY9vB3nC6dF1gH5jK0sE2q", leak: "AIzaQk8mZ2pLw4xR7tY9vB3nC6dF1gH5jK0sE2q",
		benign: "key AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
	},
}

func TestLookalikeRules(t *testing.T) {
	t.Parallel()
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)
	for _, c := range lookalikeRules {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := r.Redact("ws", c.caught).Text
			require.NotContains(t, out, c.leak, "%q → %q", c.caught, out)
			kept := r.Redact("ws", c.benign)
			require.Equal(t, c.benign, kept.Text, "counts %v", kept.Counts)
		})
	}
}
