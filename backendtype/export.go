package backendtype

import "context"

// ExportedMemory is one memory a backend holds, with its content.
type ExportedMemory struct {
	NativeID   string
	NativeURI  string
	MemoryType RefType
	SessionID  string
	Text       string
}

// SubjectExporter is a backend that can list what it holds of a user with
// the content: page by page, each page handed to emit as it is read.
type SubjectExporter interface {
	ExportSubject(ctx context.Context, req EraseRequest, emit func([]ExportedMemory) error) error
}

// MemoryReader is a backend that can read memories it holds back, with
// their text: texts[i] is memories[i]'s, found false when the backend does
// not hold it (or cannot read that kind back).
type MemoryReader interface {
	ReadMemories(ctx context.Context, workspaceID, userID string, memories []MemoryLocator) ([]ReadMemory, error)
}

// ReadMemory is one memory's text as a backend read it.
type ReadMemory struct {
	Text  string
	Found bool
}
