// 64-bit protobuf fields decode to plain numbers (exact up to 2^53) instead of Long objects.
// Imported before the generated code, which reads this setting when it is loaded.
import $protobuf from 'protobufjs/minimal.js';

$protobuf.util.Long = undefined as unknown as typeof $protobuf.util.Long;
$protobuf.configure();
