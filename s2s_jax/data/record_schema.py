"""The `aialgs.data.Record` protobuf message class, built at import time.

Mirrors record.proto beside this file. The descriptor is assembled in Python and
registered in a private DescriptorPool, so there is no protoc step, no generated
*_pb2 module, and no clash with the SageMaker SDK's record_pb2, which registers
the same full names in the default pool.
"""

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

PACKAGE = "aialgs.data"

_F = descriptor_pb2.FieldDescriptorProto
_REPEATED, _OPTIONAL = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL


def _field(msg, name, number, ftype, label=_OPTIONAL, type_name=None,
           packed=False, oneof_index=None):
  f = msg.field.add(name=name, number=number, type=ftype, label=label)
  if type_name:
    f.type_name = f".{PACKAGE}.{type_name}"
  if packed:
    f.options.packed = True
  if oneof_index is not None:
    f.oneof_index = oneof_index


def _tensor(fdp, name, value_type):
  msg = fdp.message_type.add(name=name)
  _field(msg, "values", 1, value_type, _REPEATED, packed=True)
  _field(msg, "keys", 2, _F.TYPE_UINT64, _REPEATED, packed=True)
  _field(msg, "shape", 3, _F.TYPE_UINT64, _REPEATED, packed=True)


def _map_field(record, name, number, entry_name):
  entry = record.nested_type.add(name=entry_name)
  entry.options.map_entry = True
  _field(entry, "key", 1, _F.TYPE_STRING)
  _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name="Value")
  _field(record, name, number, _F.TYPE_MESSAGE, _REPEATED,
         type_name=f"Record.{entry_name}")


def file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
  """record.proto as a FileDescriptorProto."""
  fdp = descriptor_pb2.FileDescriptorProto(
      name="s2s_jax/data/record.proto", package=PACKAGE, syntax="proto2")
  _tensor(fdp, "Float32Tensor", _F.TYPE_FLOAT)
  _tensor(fdp, "Float64Tensor", _F.TYPE_DOUBLE)
  _tensor(fdp, "Int32Tensor", _F.TYPE_INT32)

  msg = fdp.message_type.add(name="Bytes")
  _field(msg, "value", 1, _F.TYPE_BYTES, _REPEATED)
  _field(msg, "content_type", 2, _F.TYPE_STRING)

  msg = fdp.message_type.add(name="Value")
  msg.oneof_decl.add(name="value")
  for name, number, type_name in (("float32_tensor", 2, "Float32Tensor"),
                                  ("float64_tensor", 3, "Float64Tensor"),
                                  ("int32_tensor", 7, "Int32Tensor"),
                                  ("bytes", 9, "Bytes")):
    _field(msg, name, number, _F.TYPE_MESSAGE, type_name=type_name,
           oneof_index=0)

  msg = fdp.message_type.add(name="Record")
  _map_field(msg, "features", 1, "FeaturesEntry")
  _map_field(msg, "label", 2, "LabelEntry")
  _field(msg, "uid", 3, _F.TYPE_STRING)
  _field(msg, "metadata", 4, _F.TYPE_STRING)
  _field(msg, "configuration", 5, _F.TYPE_STRING)
  return fdp


def _message_class(descriptor):
  # GetMessageClass arrived in protobuf 4.22; older 4.x only has GetPrototype.
  if hasattr(message_factory, "GetMessageClass"):
    return message_factory.GetMessageClass(descriptor)
  return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(
      descriptor)


POOL = descriptor_pool.DescriptorPool()
# AddSerializedFile is the one entry point with the same behaviour on the upb,
# cpp and pure-python backends of protobuf 4 to 6.
POOL.AddSerializedFile(file_descriptor_proto().SerializeToString())


def _find(name):
  return _message_class(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


Record = _find("Record")
Value = _find("Value")
Int32Tensor = _find("Int32Tensor")
