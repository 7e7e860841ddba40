import { TensorDataType, type TensorProto } from './model.js';

export function elementCount(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce((count, dim) => count * dim, 1);
}

/**
 * The values of a tensor as float64 numbers, whichever field holds them. External data
 * (weights in a side file) is refused because pruneguard reads single-file models only.
 */
export function readValues(tensor: TensorProto): Float64Array {
  const where = `initializer '${tensor.name ?? ''}'`;
  if (tensor.dataLocation === 1 || (tensor.externalData?.length ?? 0) > 0) {
    throw new Error(`${where}: external data is not supported; save the model as a single file`);
  }
  const count = elementCount(tensor);
  const raw = tensor.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width = bytesPerElement(tensor);
    if (raw.byteLength !== count * width) {
      throw new Error(`${where}: raw_data holds ${raw.byteLength} bytes, dims need ${count * width}`);
    }
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = readElement(tensor, view, i * width);
    return values;
  }
  const typed = tensor.floatData ?? tensor.doubleData ?? tensor.int64Data ?? [];
  return Float64Array.from(typed);
}

/** Writes values back into the field the tensor already uses, so the file layout is kept. */
export function writeValues(tensor: TensorProto, values: ArrayLike<number>): void {
  if (tensor.rawData && tensor.rawData.length > 0) {
    const width = bytesPerElement(tensor);
    const raw = new Uint8Array(values.length * width);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < values.length; i++) writeElement(tensor, view, i * width, values[i] ?? 0);
    tensor.rawData = raw;
  } else if (tensor.dataType === TensorDataType.DOUBLE) {
    tensor.doubleData = Array.from(values);
  } else if (tensor.dataType === TensorDataType.INT64) {
    tensor.int64Data = Array.from(values);
  } else {
    tensor.floatData = Array.from(values);
  }
}

function bytesPerElement(tensor: TensorProto): number {
  switch (tensor.dataType) {
    case TensorDataType.FLOAT:
      return 4;
    case TensorDataType.DOUBLE:
    case TensorDataType.INT64:
      return 8;
    default:
      throw new Error(`initializer '${tensor.name ?? ''}': data type ${tensor.dataType} is not supported`);
  }
}

function readElement(tensor: TensorProto, view: DataView, offset: number): number {
  if (tensor.dataType === TensorDataType.FLOAT) return view.getFloat32(offset, true);
  if (tensor.dataType === TensorDataType.DOUBLE) return view.getFloat64(offset, true);
  return Number(view.getBigInt64(offset, true));
}

function writeElement(tensor: TensorProto, view: DataView, offset: number, value: number): void {
  if (tensor.dataType === TensorDataType.FLOAT) view.setFloat32(offset, value, true);
  else if (tensor.dataType === TensorDataType.DOUBLE) view.setFloat64(offset, value, true);
  else view.setBigInt64(offset, BigInt(Math.round(value)), true);
}
