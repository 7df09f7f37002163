pub mod huffman;
