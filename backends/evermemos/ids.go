package evermemos

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// maxIDLength bounds the user and session ids EverMemOS can index: its
// Milvus collections hold user ids in participant lists of VARCHAR(100)
// and session ids in VARCHAR(100)
// (infra_layer/adapters/out/search/milvus/memory/episodic_memory_collection.py:46-79);
// a longer id fails the index write, which the server swallows
// (biz_layer/mem_memorize.py:1539-1551).
const maxIDLength = 100

// ErrorCodeIDRefused is a write the gateway refuses because EverMemOS
// reserves the id: the session "-1" means "no session" there
// (api_specs/id_generator.py:125-157).
const ErrorCodeIDRefused = "id_refused"

// userID is what EverMemOS knows a user as: the workspace-scoped id
// (remote.Identity.ScopedUserID: percent-escaped parts, so `"` and `\`,
// which break the server's Milvus filter expressions, never reach it), with
// a leading "gen_" escaped ("%67en_": ids starting gen_ are the server's
// own, api_specs/id_generator.py:103-117), and an id longer than
// maxIDLength replaced by "uh_" + its sha256. The mapping is injective:
// escaped parts never hold a bare "%".
func (b *Backend) userID(workspace, user string) string {
	id := b.ids.Of(workspace, user).ScopedUserID()
	if strings.HasPrefix(id, "gen_") {
		id = "%67" + id[1:]
	}
	if len(id) > maxIDLength {
		sum := sha256.Sum256([]byte(id))
		id = "uh_" + hex.EncodeToString(sum[:20])
	}
	return id
}

// sessionID is what EverMemOS knows a session as: the gateway's id with
// `"`, `\` and `%` percent-escaped, a longer one than maxIDLength replaced
// by "sh_" + its sha256; the session "-1" is refused.
func sessionID(session string) (string, error) {
	if session == "-1" {
		return "", fmt.Errorf(`session id "-1" is reserved by EverMemOS for messages without a session; use another session id`)
	}
	var out strings.Builder
	for i := 0; i < len(session); i++ {
		switch c := session[i]; c {
		case '"', '\\', '%':
			fmt.Fprintf(&out, "%%%02X", c)
		default:
			out.WriteByte(c)
		}
	}
	id := out.String()
	if len(id) > maxIDLength {
		sum := sha256.Sum256([]byte(id))
		id = "sh_" + hex.EncodeToString(sum[:20])
	}
	return id, nil
}

// soloGroupID is the group of a user's personal scene, which every one of
// its episodes carries, the group-level copies included: "gen_solo_" +
// md5(user_id)[:12] (api_specs/id_generator.py:46-59).
func soloGroupID(userID string) string {
	sum := md5.Sum([]byte(userID))
	return "gen_solo_" + hex.EncodeToString(sum[:])[:12]
}
